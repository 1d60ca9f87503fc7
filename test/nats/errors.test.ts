/**
 * What the NATS bus makes of bad input and refused publishes, against the real server:
 * header bytes that are not UTF-8 (poison), and publish failures classified as permanent
 * (PublishRejectedError) or transient (UnavailableError) — finding D3 and the poison items.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createConnection } from 'node:net';
import { DiscardPolicy, jetstreamManager } from '@nats-io/jetstream';
import { PublishRejectedError, UnavailableError } from '../../src/errors.js';
import type { Message } from '../../src/eventbus/types.js';
import { invalidHeaderNames } from '../../src/eventbus/nats/wire.js';
import { deferred } from '../support/wait.js';
import { natsScope, natsUrl, uniqueName } from './helpers.js';

const scope = natsScope('err');
afterAll(() => scope.cleanup());

const te = new TextEncoder();

function msg(body: string | Uint8Array, headers: Record<string, string> = {}): Message {
  return { value: typeof body === 'string' ? te.encode(body) : body, headers };
}

/** Publish raw protocol bytes (HPUB) so header values can carry bytes no client would encode. */
async function rawHpub(subject: string, headerLines: Uint8Array[], payload: Uint8Array): Promise<void> {
  const url = new URL(natsUrl().replace(/^nats:/, 'http:'));
  const sock = createConnection({ host: url.hostname, port: Number(url.port || 4222) });
  const pong = deferred();
  let seen = '';
  sock.on('data', (b: Buffer) => {
    seen += b.toString('latin1');
    if (seen.includes('PONG')) pong.resolve();
    if (seen.includes('-ERR')) pong.reject(new Error(seen));
  });
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  const crlf = te.encode('\r\n');
  const hdr = Buffer.concat([te.encode('NATS/1.0\r\n'), ...headerLines.flatMap((l) => [l, crlf]), crlf]);
  const total = hdr.length + payload.length;
  sock.write(`CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\n`);
  sock.write(Buffer.concat([te.encode(`HPUB ${subject} ${hdr.length} ${total}\r\n`), hdr, payload, crlf, te.encode('PING\r\n')]));
  await pong.promise;
  sock.end();
}

describe('NATS bad input and publish errors', () => {
  it('poison: names header values whose bytes are not UTF-8 in invalidHeaders (raw NATS publish)', async () => {
    const topic = uniqueName('utf8');
    const bus = await scope.bus();
    const got = deferred<Message>();
    await bus.subscribe(topic, async (d) => got.resolve(d.message), { group: 'g' });
    const bad = Buffer.concat([te.encode('job_id: ab'), Buffer.from([0xff, 0xfe]), te.encode('cd')]);
    await rawHpub(bus.subjectOf(topic), [bad, te.encode('job_name: ok ✓'), te.encode('other: fine')], te.encode('p'));
    const m = await got.promise;
    expect(m.invalidHeaders).toEqual(['job_id']);
    expect(m.headers.job_id).toContain('ab'); // lossy decoding kept for the DLQ copy
    expect(m.headers.job_name).toBe('ok ✓');
    // A valid message carries no invalidHeaders at all.
    const ok = deferred<Message>();
    const topic2 = uniqueName('utf8-ok');
    await bus.subscribe(topic2, async (d) => ok.resolve(d.message), { group: 'g' });
    await bus.publish(topic2, msg('v', { job_id: 'héllo' }));
    expect((await ok.promise).invalidHeaders).toBeUndefined();
  });

  it('poison: invalidHeaderNames finds each bad value in a raw header block', () => {
    const block = Buffer.concat([
      te.encode('NATS/1.0\r\na: ok\r\nb: '),
      Buffer.from([0xc3, 0x28]),
      te.encode('\r\nNats-Msg-Id: '),
      Buffer.from([0xff]),
      te.encode('\r\nc: \u00e9\r\n\r\n'),
    ]);
    expect(invalidHeaderNames(block)).toEqual(['b']);
    expect(invalidHeaderNames(te.encode('NATS/1.0\r\na: é\r\n\r\n'))).toEqual([]);
  });

  it('D3: a message larger than max_payload is a PublishRejectedError (not retryable)', async () => {
    const topic = uniqueName('too-large');
    const bus = await scope.bus();
    const max = bus.connection.info!.max_payload;
    const err = await bus.publish(topic, msg(new Uint8Array(max + 1))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishRejectedError);
    expect((err as PublishRejectedError).retryable).toBe(false);
    // A batch with one such message fails the same way.
    await expect(bus.publishBatch(topic, [msg('small'), msg(new Uint8Array(max + 1))])).rejects.toBeInstanceOf(PublishRejectedError);
  });

  it('D3: a stream refusing new messages (max_msgs, DiscardNew) is a PublishRejectedError', async () => {
    const topic = uniqueName('full');
    const bus = await scope.bus();
    const jsm = await jetstreamManager(bus.connection);
    await jsm.streams.add({ name: bus.streamOf(topic), subjects: [bus.subjectOf(topic)], max_msgs: 1, discard: DiscardPolicy.New });
    await bus.publish(topic, msg('one'));
    const err = await bus.publish(topic, msg('two')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishRejectedError);
    expect((err as Error).message).toMatch(/maximum messages/i);
  });

  it('D3: no stream for the subject (deleted, provision verify) is a PublishRejectedError; a closed connection is UnavailableError', async () => {
    const topic = uniqueName('gone');
    const creator = await scope.bus();
    await creator.publish(topic, msg('x'));
    const verify = await scope.bus({ provision: 'verify', publishTimeoutMs: 500 });
    await verify.publish(topic, msg('y'));
    const jsm = await jetstreamManager(creator.connection);
    await jsm.streams.delete(creator.streamOf(topic));
    await expect(verify.publish(topic, msg('z'))).rejects.toBeInstanceOf(PublishRejectedError);
    // Transient: nobody answers in time (a subject the server routes nowhere is 503, so use a
    // closed connection's bus publisher instead: its error is "unavailable", never raw).
    const isolated = await scope.bus({ publishTimeoutMs: 500 });
    await isolated.publish(topic, msg('w')); // re-created by a 'create' bus
    await isolated.connection.close();
    const err = await isolated.publish(topic, msg('v')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
  });
});
