/**
 * Delayed messages on NATS: they wait in the topic's delay stream and a relay forwards them
 * when due (finding S6 of the 2026-11-28 review), against the real server.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Message } from '../../src/eventbus/types.js';
import type { NatsEventBus } from '../../src/eventbus/nats/index.js';
import { elapse, waitFor } from '../support/wait.js';
import { natsScope, uniqueName } from './helpers.js';

const scope = natsScope('dly');
afterAll(() => scope.cleanup());

const te = new TextEncoder();
const td = new TextDecoder();

function msg(body: string): Message {
  return { value: te.encode(body), headers: { n: body } };
}

async function streamState(bus: NatsEventBus, stream: string): Promise<number> {
  const jsm = await jetstreamManager(bus.connection);
  return (await jsm.streams.info(stream)).state.messages;
}

describe('NATS delayed messages', () => {
  it('S6: 5,000 delayed messages waiting do not stall immediate ones (queue maxAckPending 1,000)', async () => {
    const topic = uniqueName('s6');
    const bus = await scope.bus({ maxAckPending: 1_000 });
    const latency: number[] = [];
    let delayedSeen = 0;
    const sentAt = new Map<string, number>();
    await bus.subscribe(
      topic,
      async (d) => {
        const body = td.decode(d.message.value);
        if (body.startsWith('later')) delayedSeen++;
        else latency.push(Date.now() - sentAt.get(body)!);
      },
      { group: 'g', maxInFlight: 32 },
    );
    const inAnHour = new Date(Date.now() + 3_600_000);
    for (let i = 0; i < 5; i++) {
      await bus.publishBatch(topic, Array.from({ length: 1_000 }, (_, j) => msg(`later${i * 1_000 + j}`)), { deliverAt: inAnHour });
    }
    // The 10 min tier's relay (1 h less the publish time) has seen its head (not ready for an hour) and stopped pulling.
    const jsm = await jetstreamManager(bus.connection);
    const delayStream = `${bus.streamOf(topic)}_DELAY`;
    await waitFor(async () => (await jsm.consumers.info(delayStream, 'jobbus-relay-t10m')).num_ack_pending > 0, 'the relay at the head', 20_000, 50);
    for (let i = 0; i < 20; i++) {
      const body = `now${i}`;
      sentAt.set(body, Date.now());
      await bus.publish(topic, msg(body));
    }
    await waitFor(() => latency.length === 20, 'the 20 immediate messages', 5_000);
    expect(Math.max(...latency)).toBeLessThan(1_000);
    expect(delayedSeen).toBe(0);
    expect(await streamState(bus, delayStream)).toBe(5_000);
    expect((await jsm.consumers.info(bus.streamOf(topic), 'g')).num_ack_pending).toBeLessThanOrEqual(32);
    // The relay holds at most its in-flight cap of waiting messages, not all 5,000.
    const relay = await jsm.consumers.info(delayStream, 'jobbus-relay-t10m');
    expect(relay.num_ack_pending).toBeLessThanOrEqual(512); // its in-flight cap
    expect(relay.num_pending).toBeGreaterThanOrEqual(5_000 - 512);
  });

  it('a delayed message waits in the delay stream while no subscriber runs, then is forwarded exactly once by competing relays', async () => {
    const topic = uniqueName('relay');
    const [producer, a, b] = await Promise.all([scope.bus(), scope.bus(), scope.bus()]);
    const due = Date.now() + 800;
    await producer.publishBatch(topic, Array.from({ length: 200 }, (_, i) => msg(`d${i}`)), { deliverAt: new Date(due) });
    expect(await streamState(producer, `${producer.streamOf(topic)}_DELAY`)).toBe(200);
    const got = new Map<string, number>();
    let early = 0;
    const handler = async (d: { message: Message }): Promise<void> => {
      if (Date.now() < due) early++;
      const body = td.decode(d.message.value);
      got.set(body, (got.get(body) ?? 0) + 1);
    };
    // Two processes: two relays compete on the delay stream's one relay consumer.
    await a.subscribe(topic, handler, { group: 'g' });
    await b.subscribe(topic, handler, { group: 'g' });
    await waitFor(() => got.size === 200, 'all 200 delivered', 10_000);
    await elapse(300);
    expect(early).toBe(0);
    expect([...got.values()].every((n) => n === 1)).toBe(true);
    await waitFor(async () => (await streamState(producer, `${producer.streamOf(topic)}_DELAY`)) === 0, 'the delay stream emptied on forward');
  });

  it('moves a message down the tiers (2.5 s: the 1 s tier twice, then the near tier) and delivers it on time, never early', async () => {
    const topic = uniqueName('tiers');
    const bus = await scope.bus();
    const at: number[] = [];
    await bus.subscribe(topic, async () => void at.push(Date.now()), { group: 'g' });
    const due = Date.now() + 2_500;
    await bus.publish(topic, msg('t'), { deliverAt: new Date(due) });
    await waitFor(() => at.length === 1, 'the delayed message', 10_000);
    expect(at[0]!).toBeGreaterThanOrEqual(due);
    expect(at[0]! - due).toBeLessThan(500);
  });

  it('a move repeated after a crash (same delay-stream message) is stored once: ids are jobbus-relay|<created>|<seq>', async () => {
    const topic = uniqueName('move-dedup');
    const bus = await scope.bus();
    const got: string[] = [];
    await bus.subscribe(topic, async (d) => void got.push(td.decode(d.message.value)), { group: 'g' });
    await bus.publish(topic, msg('once'), { deliverAt: new Date(Date.now() + 600) });
    await waitFor(() => got.length === 1, 'the forwarded message');
    const jsm = await jetstreamManager(bus.connection);
    const delay = await jsm.streams.info(`${bus.streamOf(topic)}_DELAY`);
    // What a relay that crashed between its publish and its ack would send again for sequence 1.
    const ack = await jetstream(bus.connection).publish(bus.subjectOf(topic), te.encode('once'), { msgID: `jobbus-relay|${delay.created}|1` });
    expect(ack.duplicate).toBe(true);
    await elapse(300);
    expect(got).toEqual(['once']);
  });

  it('a moved message forwards with its origin id: a crash after the move, redelivered when due, forwards no second copy', async () => {
    const topic = uniqueName('hop-dedup');
    const bus = await scope.bus();
    const got: string[] = [];
    await bus.subscribe(topic, async (d) => void got.push(td.decode(d.message.value)), { group: 'g' });
    // 1.8 s: the t1s tier holds it 1 s, then moves it (delay seq 2) to `near`, which forwards it.
    await bus.publish(topic, msg('hop'), { deliverAt: new Date(Date.now() + 1_800) });
    await waitFor(() => got.length === 1, 'the forwarded message', 10_000);
    const jsm = await jetstreamManager(bus.connection);
    const delay = await jsm.streams.info(`${bus.streamOf(topic)}_DELAY`);
    expect(delay.state.last_seq).toBe(2); // it was moved once
    // What a relay that died after the move, before acking seq 1, forwards once seq 1 is due again.
    const ack = await jetstream(bus.connection).publish(bus.subjectOf(topic), te.encode('hop'), { msgID: `jobbus-relay|${delay.created}|1` });
    expect(ack.duplicate).toBe(true);
    await elapse(300);
    expect(got).toEqual(['hop']);
  });

  it('keeps dedup of a delayed publish: the same dedupId twice stores one delayed message', async () => {
    const topic = uniqueName('delay-dedup');
    const bus = await scope.bus();
    const at = new Date(Date.now() + 60_000);
    await bus.publish(topic, msg('x'), { deliverAt: at, dedupId: 'job-1|0|t' });
    await bus.publish(topic, msg('x'), { deliverAt: at, dedupId: 'job-1|0|t' });
    expect(await streamState(bus, `${bus.streamOf(topic)}_DELAY`)).toBe(1);
    await expect(bus.publish(topic, msg('x'), { deliverAt: at, dedupId: 'job-1|0|t', mustStore: true })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
