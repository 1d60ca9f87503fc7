/**
 * NATS-specific behaviour of the JetStream event bus, against the real server.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { headers } from '@nats-io/nats-core';
import { ClosedError, ConflictError, UnavailableError, ValidationError } from '../../src/errors.js';
import { H } from '../../src/headers/names.js';
import { DeliveryTerminated, type Delivery, type Message } from '../../src/eventbus/types.js';
import { DUE_AT_HEADER, type NatsEventBus } from '../../src/eventbus/nats/index.js';
import { deferred, elapse, waitFor } from '../support/wait.js';
import { natsScope, natsUrl, uniqueName } from './helpers.js';

const scope = natsScope('nb');
afterAll(() => scope.cleanup());

const te = new TextEncoder();
const td = new TextDecoder();

function msg(body: string, headers: Record<string, string> = {}, key?: string): Message {
  return { ...(key !== undefined && { key }), value: te.encode(body), headers };
}

function jobMessage(id: string, attempt: number, runAt: string, body = id): Message {
  return msg(body, { [H.id]: id, [H.name]: 'n', [H.attempt]: String(attempt), [H.runAt]: runAt });
}

async function streamMessages(bus: NatsEventBus, topic: string): Promise<number> {
  const jsm = await jetstreamManager(bus.connection);
  return (await jsm.streams.info(bus.streamOf(topic))).state.messages;
}

describe('NATS JetStream bus', () => {
  it('competing subscribers of one group each get distinct messages', async () => {
    const topic = uniqueName('compete');
    const [a, b, producer] = await Promise.all([scope.bus(), scope.bus(), scope.bus()]);
    const seen = new Map<string, string[]>();
    const handler = (who: string) => async (d: Delivery) => {
      const body = td.decode(d.message.value);
      seen.set(body, [...(seen.get(body) ?? []), who]);
      await elapse(2); // let the other subscriber get a share
    };
    await a.subscribe(topic, handler('a'), { group: 'g', maxInFlight: 4 });
    await b.subscribe(topic, handler('b'), { group: 'g', maxInFlight: 4 });
    await producer.publishBatch(topic, Array.from({ length: 200 }, (_, i) => msg(`m${i}`)));
    await waitFor(() => seen.size === 200, 'all 200 messages');
    await elapse(200);
    const who = [...seen.values()];
    expect(who.every((w) => w.length === 1)).toBe(true);
    expect(who.filter((w) => w[0] === 'a').length).toBeGreaterThan(0);
    expect(who.filter((w) => w[0] === 'b').length).toBeGreaterThan(0);
  });

  it('never delivers a delayed message early, and its early deliveries do not touch job_attempt', async () => {
    const topic = uniqueName('delayed');
    const bus = await scope.bus();
    const got: { at: number; d: Delivery }[] = [];
    // Ack wait (500 ms) far shorter than the delay: nak(delay) is not bounded by it.
    await bus.subscribe(topic, async (d) => void got.push({ at: Date.now(), d }), { group: 'g', ackTimeoutMs: 500 });
    const due = Date.now() + 1_500;
    await bus.publish(topic, jobMessage('job-1', 0, new Date().toISOString()), { deliverAt: new Date(due) });
    await waitFor(() => got.length === 1, 'the delayed message', 10_000);
    await elapse(300);
    expect(got).toHaveLength(1);
    expect(got[0]!.at).toBeGreaterThanOrEqual(due);
    expect(got[0]!.at - due).toBeLessThan(1_000);
    // It waited in the delay stream: the queue consumer delivered it once, when due.
    expect(got[0]!.d.deliveryCount).toBe(1);
    expect(got[0]!.d.message.headers[H.attempt]).toBe('0');
    expect(Object.keys(got[0]!.d.message.headers).some((k) => k.startsWith('jobbus_'))).toBe(false);
  });

  it("naks a foreign producer's early message (jobbus_due_at on the queue subject) until it is due", async () => {
    const topic = uniqueName('foreign-due');
    const bus = await scope.bus();
    const got: { at: number; d: Delivery }[] = [];
    await bus.subscribe(topic, async (d) => void got.push({ at: Date.now(), d }), { group: 'g', ackTimeoutMs: 500 });
    const due = Date.now() + 2_500; // more than EARLY_HOLD_MS ahead: naked, not held
    const h = headers();
    h.set(DUE_AT_HEADER, String(due));
    h.set(H.attempt, '0');
    await jetstream(bus.connection).publish(bus.subjectOf(topic), te.encode('f'), { headers: h });
    await waitFor(() => got.length === 1, 'the early message', 10_000);
    expect(got[0]!.at).toBeGreaterThanOrEqual(due);
    expect(got[0]!.d.deliveryCount).toBeGreaterThanOrEqual(2); // naked early: the server counts it, the job does not
    expect(got[0]!.d.message.headers[H.attempt]).toBe('0');
    // Due within EARLY_HOLD_MS: held in process until due, delivered once, never early.
    const soon = Date.now() + 300;
    const h2 = headers();
    h2.set(DUE_AT_HEADER, String(soon));
    await jetstream(bus.connection).publish(bus.subjectOf(topic), te.encode('g'), { headers: h2 });
    await waitFor(() => got.length === 2, 'the message due soon');
    expect(got[1]!.at).toBeGreaterThanOrEqual(soon);
    expect(got[1]!.d.deliveryCount).toBe(1);
  });

  it('does not redeliver a long handler that calls working() for longer than ack wait', async () => {
    const topic = uniqueName('working');
    const [a, b] = await Promise.all([scope.bus(), scope.bus()]);
    let deliveries = 0;
    const done = deferred();
    await a.subscribe(
      topic,
      async (d) => {
        deliveries++;
        const until = Date.now() + 2_500;
        while (Date.now() < until) {
          d.working();
          await elapse(150);
        }
        done.resolve();
      },
      { group: 'g', ackTimeoutMs: 600 },
    );
    await b.subscribe(topic, async () => void deliveries++, { group: 'g', ackTimeoutMs: 600 });
    await a.publish(topic, msg('long'));
    await done.promise;
    await elapse(900); // longer than ack wait after the ack
    expect(deliveries).toBe(1);
  });

  it("redelivers a killed subscriber's in-flight message after ack wait", async () => {
    const topic = uniqueName('killed');
    const victim = await scope.bus();
    const started = deferred<Delivery>();
    await victim.subscribe(topic, (d) => (started.resolve(d), new Promise<void>(() => undefined)), { group: 'g', ackTimeoutMs: 1_000 });
    await victim.publish(topic, msg('orphan'));
    const first = await started.promise;
    const killedAt = Date.now();
    await victim.connection.close(); // no ack, no nak: the process "died"
    const survivor = await scope.bus();
    const again = deferred<{ d: Delivery; at: number }>();
    await survivor.subscribe(topic, async (d) => again.resolve({ d, at: Date.now() }), { group: 'g', ackTimeoutMs: 1_000 });
    const { d, at } = await again.promise;
    expect(td.decode(d.message.value)).toBe('orphan');
    expect(d.deliveryCount).toBe(first.deliveryCount + 1);
    expect(at - killedAt).toBeGreaterThanOrEqual(500); // after (the rest of) ack wait
  });

  it('does not strand a message on the pull request of a closed subscription', async () => {
    const topic = uniqueName('closedpull');
    const bus = await scope.bus();
    const sub = await bus.subscribe(topic, async () => undefined, { group: 'g', maxInFlight: 10 });
    const jsm = await jetstreamManager(bus.connection);
    // Its pull request is waiting on the server...
    await waitFor(async () => (await jsm.consumers.info(bus.streamOf(topic), 'g')).num_waiting > 0, 'a waiting pull request');
    await sub.close();
    // ...so a message published now must not go to the dead inbox and sit out ack wait (30 s).
    await bus.publish(topic, msg('after-close'));
    const got = deferred<string>();
    await bus.subscribe(topic, async (d) => got.resolve(td.decode(d.message.value)), { group: 'g', ackTimeoutMs: 30_000 });
    const t0 = Date.now();
    expect(await got.promise).toBe('after-close');
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('keeps a retained (DLQ) topic browsable newest-first, also after a group consumed it, and removes by selection', async () => {
    const dlq = `${uniqueName('browse')}.dlq`;
    const bus = await scope.bus();
    for (let i = 0; i < 6; i++) await bus.publish(dlq, msg(`d${i}`, { n: String(i) }, `k${i}`), { retain: true });
    let consumed = 0;
    await bus.subscribe(dlq, async () => void consumed++, { group: 'alerts' });
    await waitFor(() => consumed === 6, 'the alerting group');
    await bus.cleanup(); // a retained topic is never purged by consumption
    const top = await bus.browse(dlq, 4);
    expect(top.map((m) => td.decode(m.value))).toEqual(['d5', 'd4', 'd3', 'd2']);
    expect(top[0]!.key).toBe('k5');
    expect(top[0]!.headers).toEqual({ n: '5' });
    expect(top[0]!.publishedAt).toBeInstanceOf(Date);
    const removed = await bus.remove(dlq, (m) => Number(m.headers.n) % 2 === 0);
    expect(removed).toBe(3);
    expect((await bus.browse(dlq, 100)).map((m) => m.headers.n)).toEqual(['5', '3', '1']);
    expect(await bus.browse(`${uniqueName('never')}.dlq`, 10)).toEqual([]);
  });

  it('L1: dedupId is the Nats-Msg-Id; a duplicate is dropped, and with mustStore it is an error, never a success', async () => {
    const topic = uniqueName('dedup');
    const bus = await scope.bus();
    await bus.publish(topic, msg('first'), { dedupId: 'job-7|0|t' });
    await bus.publish(topic, msg('resent'), { dedupId: 'job-7|0|t' }); // same enqueue again: dropped, success
    expect(await streamMessages(bus, topic)).toBe(1);
    // A copy that must be stored: the duplicate answer is a retryable error, the caller keeps the original.
    const err = await bus.publish(topic, msg('copy'), { dedupId: 'job-7|0|t', mustStore: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).retryable).toBe(true);
    await bus.publish(topic, msg('copy'), { dedupId: 'job-7|copy-1', mustStore: true });
    await bus.publishBatch(topic, [msg('b1'), msg('b2'), msg('b3')], { dedupIds: ['job-7|0|t', 'b2', undefined] });
    // Batch: the first id is a duplicate (dropped), the others are stored; with mustStore the batch fails.
    expect(await streamMessages(bus, topic)).toBe(4);
    await expect(bus.publishBatch(topic, [msg('b4'), msg('b5')], { dedupIds: ['b4', 'b2'], mustStore: true })).rejects.toBeInstanceOf(UnavailableError);
    // No id, no dedup (the adapter reads no job headers any more).
    await bus.publish(topic, jobMessage('job-7', 0, '2026-01-01T00:00:00.000Z', 'a'));
    await bus.publish(topic, jobMessage('job-7', 0, '2026-01-01T00:00:00.000Z', 'b'));
    const bodies = (await bus.browse(topic, 10)).map((m) => td.decode(m.value));
    expect(bodies).toEqual(['b', 'a', 'b4', 'b3', 'b2', 'copy', 'first']);
  });

  it('hands every message a closing subscriber held back to its group at once (no bare nak loses one)', async () => {
    // Regression: on 2.9.10 a burst of bare -NAKs made the consumer forget one of the messages
    // (never redelivered, ack floor stuck); releases now nak with an explicit 1 ms delay.
    const topic = uniqueName('handback');
    const bus = await scope.bus();
    const held = new Set<string>();
    const a = await bus.subscribe(topic, async (d) => {
      held.add(d.message.headers.n!);
      await new Promise(() => undefined); // never settles
    }, { group: 'g', maxInFlight: 8 });
    await bus.publishBatch(topic, Array.from({ length: 6 }, (_, i) => msg(`m${i}`, { n: String(i) })));
    await waitFor(() => held.size === 6, 'six held messages');
    await a.close();
    const got = new Set<string>();
    await bus.subscribe(topic, async (d) => void got.add(d.message.headers.n!), { group: 'g', maxInFlight: 8 });
    await waitFor(() => got.size === 6, 'all six back in the group well before ack wait', 5_000);
  });

  it('hands back what a closing subscriber held when the next subscriber comes later: each once, within pullExpiresMs', async () => {
    // Regression (2.9.10): released with 1 ms naks, the first message came due while the only
    // waiting pull request was the closed subscriber's (inbox gone): the server handed it to that
    // dead request (back only after ack wait) and delivered another message twice.
    const topic = uniqueName('handback-late');
    const bus = await scope.bus({ pullExpiresMs: 1_000 });
    const held = new Set<string>();
    const a = await bus.subscribe(topic, async (d) => {
      held.add(d.message.headers.n!);
      await new Promise(() => undefined); // never settles
    }, { group: 'g', maxInFlight: 8, ackTimeoutMs: 30_000 });
    await bus.publishBatch(topic, Array.from({ length: 5 }, (_, i) => msg(`m${i}`, { n: String(i) })));
    await waitFor(() => held.size === 5, 'five held messages');
    await a.close();
    await elapse(300); // nobody pulls for a while
    const got: string[] = [];
    const t0 = Date.now();
    await bus.subscribe(topic, async (d) => void got.push(d.message.headers.n!), { group: 'g', maxInFlight: 8 });
    await waitFor(() => got.length >= 5, 'all five back', 5_000);
    await elapse(300);
    expect(got.sort()).toEqual(['0', '1', '2', '3', '4']);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('terminates (+TERM) a delivery rejected with DeliveryTerminated: advisory raised, never redelivered', async () => {
    const topic = uniqueName('term');
    const bus = await scope.bus();
    const nc = await connect({ servers: natsUrl() });
    const advisories: string[] = [];
    const adv = nc.subscribe('$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>', {
      callback: (_err, m) => {
        if (m.subject.includes(scope.streamPrefix)) advisories.push(m.subject);
      },
    });
    try {
      let calls = 0;
      await bus.subscribe(
        topic,
        async () => {
          calls++;
          throw new DeliveryTerminated('moved to the DLQ');
        },
        { group: 'g', redeliveryDelayMs: 50, ackTimeoutMs: 1_000 },
      );
      await bus.publish(topic, msg('t'));
      await waitFor(() => advisories.length === 1, 'the MSG_TERMINATED advisory');
      await elapse(1_500); // past ack wait: a terminated message does not come back
      expect(calls).toBe(1);
    } finally {
      adv.unsubscribe();
      await nc.close();
    }
  });

  it('round-trips keys and header values NATS would otherwise trim or refuse', async () => {
    const topic = uniqueName('headers');
    const bus = await scope.bus();
    const got = deferred<Message>();
    await bus.subscribe(topic, async (d) => got.resolve(d.message), { group: 'g' });
    const headers = { spaced: '  padded  ', multi: 'line1\r\nline2', empty: '', unicode: 'héllo ✓', marker: '%jb%x', 'Nats-Msg-Id': 'dropped' };
    const withProto = { ...headers, ...(JSON.parse('{"__proto__": "p"}') as Record<string, string>) };
    await bus.publish(topic, msg('h', withProto, 'the key'));
    const m = await got.promise;
    const { 'Nats-Msg-Id': _dropped, ...expected } = headers;
    expect(Object.getPrototypeOf(m.headers)).toBe(Object.prototype);
    expect(m.headers['__proto__']).toBe('p'); // a header, not the prototype
    expect({ ...m.headers }).toEqual({ ...expected, ...(JSON.parse('{"__proto__": "p"}') as Record<string, string>) });
    expect(m.key).toBe('the key');
  });

  it('purges settled jobs of a queue stream once every group has acked them', async () => {
    const topic = uniqueName('cleanup');
    const bus = await scope.bus();
    let g1 = 0;
    await bus.subscribe(topic, async () => void g1++, { group: 'g1' });
    const gate = deferred();
    let g2 = 0;
    await bus.subscribe(topic, async () => { await gate.promise; g2++; }, { group: 'g2' });
    await bus.publishBatch(topic, Array.from({ length: 20 }, (_, i) => msg(`c${i}`)));
    await waitFor(() => g1 === 20, 'group 1');
    await bus.cleanup();
    expect(await streamMessages(bus, topic)).toBe(20); // g2 has not acked yet
    gate.resolve();
    await waitFor(() => g2 === 20, 'group 2');
    await waitFor(async () => (await bus.cleanup(), (await streamMessages(bus, topic)) === 0), 'the purge');
  });

  it('refuses a second group on a workqueue-retention queue with a ConflictError', async () => {
    const topic = uniqueName('wq');
    const bus = await scope.bus({ queueRetention: 'workqueue' });
    let n = 0;
    await bus.subscribe(topic, async () => void n++, { group: 'one' });
    await expect(bus.subscribe(topic, async () => undefined, { group: 'two' })).rejects.toBeInstanceOf(ConflictError);
    await bus.subscribe(topic, async () => void n++, { group: 'one' }); // more members of the same group are fine
    await bus.publish(topic, msg('x'));
    await waitFor(async () => n === 1 && (await streamMessages(bus, topic)) === 0, 'workqueue removal on ack');
  });

  it("D5: a subscriber with another ackTimeoutMs neither changes the group's ack wait nor gets its running jobs redelivered", async () => {
    const topic = uniqueName('ackwait');
    const [a, b] = await Promise.all([scope.bus(), scope.bus()]);
    const jsm = await jetstreamManager(a.connection);
    // Short ack wait first (1 s), then a process with a long lease (10 s) joins the group.
    const runs: string[] = [];
    const release = deferred();
    await a.subscribe(topic, async (d) => void runs.push(`a:${td.decode(d.message.value)}`), { group: 'g', ackTimeoutMs: 1_000, maxInFlight: 1 });
    await b.subscribe(topic, async (d) => {
      runs.push(`b:${td.decode(d.message.value)}`);
      await release.promise; // longer than the consumer's 1 s ack wait, never calls working()
    }, { group: 'g', ackTimeoutMs: 10_000, maxInFlight: 8 });
    const config = (await jsm.consumers.info(a.streamOf(topic), 'g')).config;
    expect(config.ack_wait).toBe(1_000 * 1_000_000); // not flipped to 10 s
    expect(config.max_deliver).toBe(-1); // attempts live in job_attempt: the server never drops a job
    await a.publishBatch(topic, Array.from({ length: 6 }, (_, i) => msg(`m${i}`)));
    await waitFor(() => runs.some((r) => r.startsWith('b:')), 'a job held by the long-lease process');
    await elapse(2_500); // 2.5 consumer ack waits: b keeps its jobs alive with +WPI
    release.resolve();
    await waitFor(() => new Set(runs.map((r) => r.slice(2))).size === 6, 'all six');
    await elapse(300);
    expect(runs).toHaveLength(6); // no job ran twice
  });

  it('rejects queue names that cannot map to a subject, naming the queue', async () => {
    const bus = await scope.bus();
    for (const bad of ['has space', 'a..b', 'wild.*', 'tail.', 'gt.>', 'ünï']) {
      const err = await bus.publish(bad, msg('x')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toContain(JSON.stringify(bad));
    }
  });

  it('health-checks through JetStream and is closed after close()', async () => {
    const bus = await scope.bus();
    await bus.healthCheck();
    await bus.close();
    await bus.close(); // idempotent
    await expect(bus.healthCheck()).rejects.toBeInstanceOf(ClosedError);
    await expect(bus.publish(uniqueName('closed'), msg('x'))).rejects.toBeInstanceOf(ClosedError);
  });

  it('verify-only mode refuses a missing stream', async () => {
    const bus = await scope.bus({ provision: 'verify' });
    await expect(bus.publish(uniqueName('missing'), msg('x'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
