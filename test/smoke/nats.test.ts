import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { natsUrl, uniqueName } from '../setup/env.js';

describe('smoke: NATS JetStream', () => {
  const stream = uniqueName('smoke_nats');
  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager | undefined;

  afterAll(async () => {
    await jsm?.streams.delete(stream).catch(() => {});
    await nc?.close();
  });

  it('publishes, pull-consumes and acks a message', async () => {
    nc = await connect({ servers: natsUrl() });
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });

    const js = jetstream(nc);
    const ack = await js.publish(`${stream}.jobs`, 'hello nats', { msgID: 'j-1', headers: undefined });
    expect(ack.stream).toBe(stream);
    expect(ack.seq).toBe(1);
    // same Nats-Msg-Id again: deduplicated by the server
    expect((await js.publish(`${stream}.jobs`, 'hello nats', { msgID: 'j-1' })).duplicate).toBe(true);

    await jsm.consumers.add(stream, { durable_name: 'worker', ack_policy: AckPolicy.Explicit });
    const consumer = await js.consumers.get(stream, 'worker');
    const msg = await consumer.next({ expires: 5000 });
    expect(msg).not.toBeNull();
    expect(msg!.subject).toBe(`${stream}.jobs`);
    expect(msg!.string()).toBe('hello nats');
    expect(await msg!.ackAck()).toBe(true);

    const info = await jsm.consumers.info(stream, 'worker');
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
  });
});
