/**
 * Retention of `acked` queue streams against the real server: what the janitor may drop
 * (findings N1 and L2 of the 2026-11-28 review).
 */
import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { createJob } from '../../src/index.js';
import { createEventBusBridge, createRuntimeBackend, createWorker } from '../../src/advanced.js';
import { cleanupMethodFor } from '../../src/eventbus/nats/server-version.js';
import { RedeliverAfter, type Message } from '../../src/eventbus/types.js';
import type { NatsEventBus } from '../../src/eventbus/nats/index.js';
import { deferred, elapse, waitFor } from '../support/wait.js';
import { natsScope, uniqueName } from './helpers.js';

const scope = natsScope('ret');
afterAll(() => scope.cleanup());

const te = new TextEncoder();
const td = new TextDecoder();
const silent = pino({ level: 'silent' });

function msg(body: string): Message {
  return { value: te.encode(body), headers: {} };
}

async function stored(bus: NatsEventBus, topic: string): Promise<number> {
  const jsm = await jetstreamManager(bus.connection);
  return (await jsm.streams.info(bus.streamOf(topic))).state.messages;
}

async function ackFloor(bus: NatsEventBus, topic: string, group: string): Promise<number> {
  const jsm = await jetstreamManager(bus.connection);
  return (await jsm.consumers.info(bus.streamOf(topic), group)).ack_floor.stream_seq;
}

/** A subscriber of `group` that records bodies; returns the record and the subscription. */
async function collector(bus: NatsEventBus, topic: string, group: string) {
  const got: string[] = [];
  const sub = await bus.subscribe(topic, async (d) => void got.push(td.decode(d.message.value)), { group });
  return { got, sub };
}

describe('NATS retention', () => {
  it('N1: cleanup while jobs are nak-delayed, held by a handler and lease-expired loses none of them', async () => {
    const topic = uniqueName('n1-states');
    const bus = await scope.bus({ cleanupIntervalMs: 600_000 }); // cleanup only when called
    expect(bus.cleanupMethod).toBe(cleanupMethodFor(bus.connection.info?.version));
    const done = new Set<string>();
    const deliveries = new Map<string, number>();
    const gate = deferred();
    await bus.subscribe(
      topic,
      async (d) => {
        const body = td.decode(d.message.value);
        const n = (deliveries.get(body) ?? 0) + 1;
        deliveries.set(body, n);
        if (body.startsWith('delayed') && n === 1) throw new RedeliverAfter(1_500); // nak-delayed past the cleanup
        if (body.startsWith('expired') && n === 1) return new Promise<void>(() => undefined); // lease expires (1 s)
        if (body.startsWith('held')) {
          while (!(await Promise.race([gate.promise.then(() => true), elapse(300).then(() => false)]))) d.working();
        }
        done.add(body);
      },
      { group: 'g', ackTimeoutMs: 1_000, maxInFlight: 64 },
    );
    const kinds = ['acked', 'delayed', 'held', 'expired'];
    await bus.publishBatch(topic, kinds.flatMap((k) => Array.from({ length: 5 }, (_, i) => msg(`${k}${i}`))));
    await waitFor(async () => (await ackFloor(bus, topic, 'g')) === 5, 'the five acked jobs below the floor');
    await waitFor(() => deliveries.size === 20, 'every job delivered once');
    // Everything above the floor is now ack-pending in one of the three states: drop below it.
    expect(await bus.cleanup()).toBe(5);
    expect(await stored(bus, topic)).toBe(15);
    await elapse(1_200); // the expired leases run out after the cleanup
    gate.resolve();
    await waitFor(() => done.size === 20, 'all 20 jobs done', 10_000);
    expect([...done].sort()).toEqual(kinds.flatMap((k) => Array.from({ length: 5 }, (_, i) => `${k}${i}`)).sort());
    await waitFor(async () => (await bus.cleanup(), (await stored(bus, topic)) === 0), 'the rest dropped once settled');
  });

  it('N1: 300 jobs due spread over 3 s with cleanup every 100 ms: every job runs, none early', async () => {
    const queue = uniqueName('n1-spread');
    const bus = await scope.bus({ cleanupIntervalMs: 100 });
    const backend = createRuntimeBackend(createEventBusBridge(bus, { logger: silent, ownsBus: false }), { group: 'w', ackTimeoutMs: 30_000 });
    const ran = new Map<string, number>();
    let early = 0;
    const worker = createWorker(backend, { queues: [queue], concurrency: 16, reserveTimeoutMs: 100, stopTimeoutMs: 2_000 }, { logger: silent });
    worker.register('tick', async (job) => {
      if (Date.now() < job.runAt.getTime()) early++;
      ran.set(job.id, (ran.get(job.id) ?? 0) + 1);
    });
    await worker.start();
    try {
      const t0 = Date.now() + 200;
      const jobs = Array.from({ length: 300 }, (_, i) => createJob({ name: 'tick', queue, payload: { i }, runAt: new Date(t0 + i * 10) }));
      await backend.enqueueBatch(jobs);
      await waitFor(() => ran.size === 300, 'all 300 jobs', 15_000);
      expect(early).toBe(0);
    } finally {
      await worker.stop();
      await backend.close();
    }
  });

  it('L2: a group deployed later gets every job still retained (not yet acked by every registered group)', async () => {
    const topic = uniqueName('l2-late');
    const bus = await scope.bus({ cleanupIntervalMs: 600_000 });
    const billing = await collector(bus, topic, 'billing');
    await bus.publishBatch(topic, Array.from({ length: 10 }, (_, i) => msg(`a${i}`)));
    await waitFor(async () => (await ackFloor(bus, topic, 'billing')) === 10, 'billing acked the first ten');
    expect(await bus.cleanup()).toBe(10); // acked by the only group: dropped
    await billing.sub.close();
    await bus.publishBatch(topic, Array.from({ length: 5 }, (_, i) => msg(`b${i}`)));
    expect(await bus.cleanup()).toBe(0); // billing has not acked these
    const audit = await collector(bus, topic, 'audit');
    await waitFor(() => audit.got.length === 5, "the five jobs billing still holds");
    await elapse(200);
    expect(audit.got.sort()).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
    expect(await bus.cleanup()).toBe(0); // billing (stopped, registered) still holds them
    const back = await collector(bus, topic, 'billing');
    await waitFor(() => back.got.length === 5, 'billing gets them when it comes back');
  });

  it("L2: deleting a group's durable mid-run loses none of its jobs; its subscriber re-creates it after the recorded floor", async () => {
    const topic = uniqueName('l2-deleted');
    const bus = await scope.bus({ cleanupIntervalMs: 600_000 });
    const jsm = await jetstreamManager(bus.connection);
    await collector(bus, topic, 'fast');
    const gate = deferred();
    const slowGot: string[] = [];
    await bus.subscribe(
      topic,
      async (d) => {
        const body = td.decode(d.message.value);
        if (Number(body.slice(1)) >= 5) await gate.promise; // acks the first five, then waits
        slowGot.push(body);
      },
      { group: 'slow', maxInFlight: 1 },
    );
    await bus.publishBatch(topic, Array.from({ length: 20 }, (_, i) => msg(`m${i}`)));
    await waitFor(async () => (await ackFloor(bus, topic, 'slow')) === 5 && (await ackFloor(bus, topic, 'fast')) === 20, 'fast done, slow at five');
    expect(await bus.cleanup()).toBe(5); // records slow's floor (5)
    await jsm.consumers.delete(bus.streamOf(topic), 'slow'); // an operator's `nats consumer rm`, subscriber still running
    expect(await bus.cleanup()).toBe(0); // slow is registered: held at its recorded floor
    expect(await stored(bus, topic)).toBe(15);
    gate.resolve();
    // The subscriber notices (409 consumer deleted or missed heartbeats) and re-creates its
    // consumer at sequence 6: every job it had not acked comes back.
    await waitFor(() => new Set(slowGot).size === 20, 'the fifteen jobs slow had not acked', 20_000);
    expect(new Set(slowGot.slice(5))).toEqual(new Set(Array.from({ length: 15 }, (_, i) => `m${i + 5}`)));
  });

  it('L2: the registry survives a restart: a new bus instance still holds the floor of a group whose durable is gone', async () => {
    const topic = uniqueName('l2-restart');
    const first = await scope.bus({ cleanupIntervalMs: 600_000 });
    const a = await collector(first, topic, 'a');
    await first.publishBatch(topic, Array.from({ length: 5 }, (_, i) => msg(`x${i}`)));
    await waitFor(async () => (await ackFloor(first, topic, 'a')) === 5, 'group a acked five');
    await first.cleanup();
    await a.sub.close();
    const jsm = await jetstreamManager(first.connection);
    await jsm.consumers.delete(first.streamOf(topic), 'a'); // e.g. lost with memory storage
    await first.close();

    const second = await scope.bus({ cleanupIntervalMs: 600_000 });
    const c = await collector(second, topic, 'c');
    await second.publishBatch(topic, Array.from({ length: 5 }, (_, i) => msg(`y${i}`)));
    await waitFor(async () => c.got.length === 5 && (await ackFloor(second, topic, 'c')) === 10, 'group c acked everything');
    expect(await second.cleanup()).toBe(0); // a's recorded floor (5) holds the rest
    const back = await collector(second, topic, 'a');
    await waitFor(() => back.got.length === 5, "a's five unread jobs");
    expect(back.got).toEqual(['y0', 'y1', 'y2', 'y3', 'y4']);
  });

  it('L2: removeGroup deletes the durable and the registration, so the group no longer holds the floor', async () => {
    const topic = uniqueName('l2-remove');
    const bus = await scope.bus({ cleanupIntervalMs: 600_000 });
    const keep = await collector(bus, topic, 'keep');
    const gone = await collector(bus, topic, 'gone');
    await gone.sub.close();
    await bus.publishBatch(topic, Array.from({ length: 8 }, (_, i) => msg(`r${i}`)));
    await waitFor(async () => keep.got.length === 8 && (await ackFloor(bus, topic, 'keep')) === 8, 'keep acked all');
    expect(await bus.cleanup()).toBe(0); // 'gone' is registered and acked nothing
    expect(await bus.removeGroup(topic, 'gone')).toBe(true);
    expect(await bus.removeGroup(topic, 'gone')).toBe(false);
    const jsm = await jetstreamManager(bus.connection);
    expect(await jsm.consumers.info(bus.streamOf(topic), 'gone').then(() => true, () => false)).toBe(false);
    const kv = await new Kvm(bus.connection).open(`${scope.streamPrefix}_groups`);
    expect(await kv.get(`${bus.streamOf(topic)}.gone`).then((e) => e?.operation)).not.toBe('PUT');
    expect(await bus.cleanup()).toBe(8);
  });
});
