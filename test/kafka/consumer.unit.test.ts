/**
 * Unit tests of the Kafka consumer side without a broker: the commit-metadata codec, the ack
 * tracker's span, the committer's rules, the subscription driven through a scripted client port
 * (fault injection through the port), and the kafkajs driver's pause/resume guard.
 */
import { describe, expect, it } from 'vitest';
import { createCommitter } from '../../src/eventbus/kafka/commits.js';
import { loadKafkaJsDriver } from '../../src/eventbus/kafka/kafkajs-driver.js';
import {
  bitsThatFit,
  decodeSettled,
  encodeSettled,
  KAFKA_DEFAULT_METADATA_MAX_BYTES,
} from '../../src/eventbus/kafka/offset-metadata.js';
import { newPartitionState, type PartitionState } from '../../src/eventbus/kafka/partition.js';
import type {
  BatchControl,
  CommitOffset,
  CommittedOffset,
  GroupConsumerPort,
  GroupHandlers,
} from '../../src/eventbus/kafka/port.js';
import { createKafkaSubscription, DEFAULT_MAX_OFFSET_SPAN } from '../../src/eventbus/kafka/subscription.js';
import { createPartitionTracker } from '../../src/eventbus/kafka/tracker.js';
import type { Delivery } from '../../src/eventbus/types.js';
import { waitFor } from '../../src/testing/wait.js';

/** Deterministic pseudo-random numbers (xorshift). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) % 1_000_000) / 1_000_000;
  };
}

describe('U1: commit metadata codec', () => {
  it('U1: round-trips settled offsets as a bitset or run lengths, whichever is shorter', () => {
    const committed = 1_000_123;
    // Long runs (a stuck head, everything after it settled): run lengths win by far.
    const runs = encodeSettled(committed, 5_000, () => true);
    expect(runs.startsWith('jb1r:')).toBe(true);
    expect(runs.length).toBeLessThan(30);
    const r = decodeSettled(runs, committed)!;
    expect(r.count).toBe(5_000);
    expect(r.has(committed)).toBe(false);
    expect(r.has(committed + 1)).toBe(true);
    expect(r.has(committed + 5_000)).toBe(true);
    expect(r.has(committed + 5_001)).toBe(false);
    // Random settles: the bitset wins.
    const rand = rng(7);
    const states = Array.from({ length: 3_000 }, () => rand() < 0.5);
    const bits = encodeSettled(committed, states.length, (i) => states[i]!);
    expect(bits.startsWith('jb1b:')).toBe(true);
    const b = decodeSettled(bits, committed)!;
    expect(states.filter((st, i) => b.has(committed + 1 + i) !== st)).toEqual([]);
    expect(b.count).toBe(states.filter(Boolean).length);
    // Nothing settled: no metadata at all.
    expect(encodeSettled(committed, 100, () => false)).toBe('');
  });

  it('U1: the worst case at the default maxOffsetSpan fits the broker default of 4096 bytes', () => {
    expect(DEFAULT_MAX_OFFSET_SPAN).toBeGreaterThanOrEqual(20_000);
    expect(DEFAULT_MAX_OFFSET_SPAN - 1).toBeLessThanOrEqual(bitsThatFit(KAFKA_DEFAULT_METADATA_MAX_BYTES));
    const committed = 2 ** 53 - DEFAULT_MAX_OFFSET_SPAN - 10; // longest offset in the header
    const alternating = encodeSettled(committed, DEFAULT_MAX_OFFSET_SPAN - 1, (i) => i % 2 === 0);
    expect(alternating.length).toBeLessThanOrEqual(KAFKA_DEFAULT_METADATA_MAX_BYTES);
    const d = decodeSettled(alternating, committed)!;
    let wrong = 0;
    for (let i = 0; i < DEFAULT_MAX_OFFSET_SPAN - 1; i++) if (d.has(committed + 1 + i) !== (i % 2 === 0)) wrong++;
    expect(wrong).toBe(0);
  });

  it('U1: past the size bound the encoding is cut short, never claiming an unsettled offset', () => {
    const rand = rng(11);
    const states = Array.from({ length: 100_000 }, () => rand() < 0.7);
    const meta = encodeSettled(5, states.length, (i) => states[i]!, 1_000);
    expect(meta.length).toBeLessThanOrEqual(1_000);
    const d = decodeSettled(meta, 5)!;
    let claimed = 0;
    let wrong = 0;
    for (let i = 0; i < states.length; i++) {
      if (d.has(6 + i)) {
        if (!states[i]) wrong++;
        claimed++;
      }
    }
    expect(wrong).toBe(0);
    expect(claimed).toBeGreaterThan(3_000); // most of what fits, not nothing
  });

  it('U1: garbage, foreign metadata and metadata of another offset are ignored', () => {
    const good = encodeSettled(42, 10, (i) => i === 3);
    expect(decodeSettled(good, 42)!.has(46)).toBe(true);
    expect(decodeSettled(good, 41)).toBeUndefined(); // committed offset reset by a tool
    for (const bad of ['', null, undefined, 'hello', 'jb1x:16:AA', 'jb1b:16', 'jb1b:zzzzzzzzzzzz:AA', 'jb1r:16:gICAgICAgICA', 'jb1b:16:!!', 'jb1r:16:']) {
      expect(decodeSettled(bad, 42)).toBeUndefined();
    }
  });
});

describe('U1: tracker span', () => {
  it('U1: a stuck head keeps one byte per offset of span, committable stays, metadata names the settled ones', () => {
    const t = createPartitionTracker();
    for (let o = 100; o < 100 + 50_000; o++) t.add(o);
    let moved = 0;
    for (let o = 101; o < 100 + 50_000; o++) if (t.settle(o)) moved++;
    expect(moved).toBe(0);
    expect(t.committable()).toBe(100);
    expect(t.unsettled()).toBe(1);
    expect(t.span()).toBe(50_000);
    const d = decodeSettled(t.metadata(4_096), 100)!;
    expect(d.count).toBe(49_999);
    expect(t.settle(100)).toBe(true);
    expect(t.span()).toBe(0);
    expect(t.committable()).toBe(100 + 50_000);
    expect(t.metadata(4_096)).toBe('');
  });

  it('U1: matches a reference model under random adds (with gaps, skipped-as-settled) and settles', () => {
    const rand = rng(3);
    const t = createPartitionTracker();
    const unsettled = new Set<number>();
    let next = 10;
    let last: number | undefined;
    for (let step = 0; step < 6_000; step++) {
      if (rand() < 0.55) {
        next += rand() < 0.1 ? 3 : 1; // gaps: compaction, transaction markers
        const settled = rand() < 0.1;
        expect(t.add(next, settled)).toBe(true);
        if (!settled) unsettled.add(next);
        last = next;
      } else if (unsettled.size) {
        const pick = [...unsettled][Math.floor(rand() * Math.min(unsettled.size, 8))]!;
        unsettled.delete(pick);
        t.settle(pick);
      }
      let expected = last === undefined ? undefined : last + 1;
      for (const o of unsettled) if (o < expected!) expected = o;
      expect(t.committable()).toBe(expected);
      expect(t.unsettled()).toBe(unsettled.size);
      if (expected !== undefined && unsettled.size && step % 50 === 0) {
        expect(t.span()).toBe(last! - expected + 1);
        const d = decodeSettled(t.metadata(1 << 20), expected);
        let wrong = 0;
        for (let o = expected + 1; o <= last!; o++) if ((d?.has(o) ?? false) === unsettled.has(o)) wrong++;
        expect(wrong).toBe(0);
      }
    }
  });
});

/** A scripted group consumer: records commits, answers committed() from `group`. */
function scriptedConsumer(topic: string): GroupConsumerPort & {
  handlers?: GroupHandlers;
  commits: CommitOffset[][];
  group: Map<number, CommittedOffset>;
  paused: Set<number>;
} {
  const commits: CommitOffset[][] = [];
  const group = new Map<number, CommittedOffset>();
  const paused = new Set<number>();
  const c = {
    commits,
    group,
    paused,
    handlers: undefined as GroupHandlers | undefined,
    async start(h: GroupHandlers) {
      c.handlers = h;
    },
    pause(_t: string, partitions?: readonly number[]) {
      for (const p of partitions ?? []) paused.add(p);
    },
    resume(_t: string, partitions?: readonly number[]) {
      for (const p of partitions ?? []) paused.delete(p);
    },
    async commit(offsets: readonly CommitOffset[]) {
      commits.push([...offsets]);
      for (const o of offsets) group.set(o.partition, { partition: o.partition, offset: o.offset, metadata: o.metadata ?? '' });
    },
    async committed(t: string) {
      return t === topic ? [...group.values()] : [];
    },
    async stop() {},
  };
  return c;
}

const control = (): BatchControl & { advanced: number[] } => {
  const advanced: number[] = [];
  return { advanced, advance: (o) => advanced.push(o), heartbeat: async () => {}, isActive: () => true };
};
const records = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => ({ offset: from + i, key: null, value: new Uint8Array([1]), headers: {}, timestamp: 0 }));

function subscriptionOver(consumer: GroupConsumerPort, handler: (d: Delivery) => Promise<void>, extra: { maxOffsetSpan?: number; maxInFlight?: number; ackTimeoutMs?: number } = {}) {
  return createKafkaSubscription({
    topic: 't',
    group: 'g',
    groupId: 'g.t',
    handler,
    ordering: 'none',
    maxInFlight: extra.maxInFlight ?? 1_000,
    maxOffsetSpan: extra.maxOffsetSpan,
    ackTimeoutMs: extra.ackTimeoutMs ?? 60_000,
    redeliveryDelayMs: 10,
    inMemoryRedeliveryMaxMs: 5_000,
    drainTimeoutMs: 100,
    revokeDrainMs: 100,
    heartbeatTickMs: 20,
    consumer: () => consumer,
    republishLater: async () => {},
    logger: undefined,
    onClosed: () => {},
  });
}

describe('kafka subscription through a scripted client port', () => {
  it('U3: a kept partition whose group offset moved past ours (fenced rejoin) never commits backwards', async () => {
    const consumer = scriptedConsumer('t');
    const never = new Promise<void>(() => {});
    const sub = subscriptionOver(consumer, (d) => (d.message.value[0] === 9 ? never : Promise.resolve()));
    await sub.start();
    const h = consumer.handlers!;
    h.onAssigned(new Map([['t', [0]]]), 1);
    // Offset 0 never settles (value 9), 1..9 do: committable stays 0.
    const batch = records(0, 10).map((r, i) => (i === 0 ? { ...r, value: new Uint8Array([9]) } : r));
    await h.onBatch({ topic: 't', partition: 0, records: batch }, control());
    await waitFor(() => consumer.commits.flat().some((c) => c.offset === 0 && c.metadata), 'the metadata commit at offset 0');
    // Fenced: kafkajs rejoins without REBALANCING; meanwhile another member committed 500.
    consumer.group.set(0, { partition: 0, offset: 500, metadata: '' });
    const before = consumer.commits.length;
    h.onAssigned(new Map([['t', [0]]]), 2);
    await h.onBatch({ topic: 't', partition: 0, records: records(500, 503) }, control());
    await waitFor(() => consumer.commits.slice(before).flat().some((c) => c.offset === 503), 'a commit from the group offset on');
    for (const c of consumer.commits.slice(before).flat()) expect(c.offset).toBeGreaterThanOrEqual(500);
    await sub.close();
  });

  it('U1: records the metadata marks settled are skipped, not delivered', async () => {
    const consumer = scriptedConsumer('t');
    consumer.group.set(0, { partition: 0, offset: 10, metadata: encodeSettled(10, 5, (i) => i !== 2) }); // 11,12,14,15 settled
    const seen: number[] = [];
    const sub = subscriptionOver(consumer, async (d) => {
      seen.push(Number(d.position.split('@')[1]));
    });
    await sub.start();
    consumer.handlers!.onAssigned(new Map([['t', [0]]]), 1);
    await consumer.handlers!.onBatch({ topic: 't', partition: 0, records: records(10, 20) }, control());
    await waitFor(() => seen.length === 6, 'six deliveries');
    expect(seen.sort((a, b) => a - b)).toEqual([10, 13, 16, 17, 18, 19]);
    await waitFor(() => consumer.group.get(0)!.offset === 20, 'commit 20');
    await sub.close();
  });

  it('U1: past maxOffsetSpan the partition is paused, and resumed once the oldest settles', async () => {
    const consumer = scriptedConsumer('t');
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    const sub = subscriptionOver(consumer, (d) => (d.message.value[0] === 9 ? stuck : Promise.resolve()), { maxOffsetSpan: 100 });
    await sub.start();
    consumer.handlers!.onAssigned(new Map([['t', [0]]]), 1);
    const batch = records(0, 1_000).map((r, i) => (i === 0 ? { ...r, value: new Uint8Array([9]) } : r));
    const c = control();
    await consumer.handlers!.onBatch({ topic: 't', partition: 0, records: batch }, c);
    expect(c.advanced.length).toBe(100); // offsets 0..99 admitted, the rest left in Kafka
    expect(consumer.paused.has(0)).toBe(true);
    expect(sub.span()).toBeLessThanOrEqual(100);
    release();
    await waitFor(() => !consumer.paused.has(0), 'the resume');
    await sub.close();
  });

  it('U1: maxOffsetSpan must be a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => subscriptionOver(scriptedConsumer('t'), async () => {}, { maxOffsetSpan: bad })).toThrow(/maxOffsetSpan/);
    }
  });

  it('U4: deliveries of a partition being revoked see their signal aborted', async () => {
    const consumer = scriptedConsumer('t');
    const signals: AbortSignal[] = [];
    const sub = subscriptionOver(consumer, (d) => {
      signals.push(d.signal!);
      return new Promise(() => {});
    });
    await sub.start();
    consumer.handlers!.onAssigned(new Map([['t', [0]]]), 1);
    await consumer.handlers!.onBatch({ topic: 't', partition: 0, records: records(0, 3) }, control());
    await waitFor(() => signals.length === 3, 'three deliveries');
    expect(signals.every((s) => !s.aborted)).toBe(true);
    consumer.handlers!.onRebalancing();
    expect(signals.every((s) => s.aborted)).toBe(true);
    await sub.close();
  });

  it('a delivery shows its fields; working() called destructured keeps a slow handler from being redelivered', async () => {
    const consumer = scriptedConsumer('t');
    const seen: Delivery[] = [];
    const sub = subscriptionOver(
      consumer,
      async (d) => {
        seen.push(d);
        const { working } = d;
        for (let i = 0; i < 12; i++) {
          await new Promise((r) => setTimeout(r, 40));
          working();
        }
      },
      { ackTimeoutMs: 300 }, // room for a stalled event loop between two working() calls
    );
    await sub.start();
    consumer.handlers!.onAssigned(new Map([['t', [0]]]), 1);
    await consumer.handlers!.onBatch({ topic: 't', partition: 0, records: records(0, 1) }, control());
    await waitFor(() => consumer.commits.some((c) => c.some((o) => o.offset === 1)), 'the slow delivery committed');
    expect(seen).toHaveLength(1); // 480 ms of work under a 300 ms ack timeout: never presumed dead
    expect([seen[0]!.topic, seen[0]!.deliveryCount, seen[0]!.position, seen[0]!.message.value]).toEqual(['t', 1, 't/0@0', new Uint8Array([1])]);
    await sub.close();
  });
});

describe('committer', () => {
  const setup = () => {
    const consumer = scriptedConsumer('t');
    const ps: PartitionState = newPartitionState(0);
    ps.ready = true;
    const committer = createCommitter({ topic: 't', groupId: 'g', partitions: () => [ps], consumer: () => consumer, logger: undefined });
    return { consumer, ps, committer };
  };

  it('D1: a HELD partition is committed only from a flush or a commit issued at once, not from a queued one', async () => {
    const { consumer, ps, committer } = setup();
    ps.tracker.add(0);
    ps.tracker.settle(0);
    ps.status = 'held';
    committer.request();
    await committer.flush(); // includes held
    expect(consumer.commits.flat().map((c) => c.offset)).toEqual([1]);
    ps.tracker.add(1);
    ps.tracker.settle(1);
    committer.request(); // queued commits never carry a held partition
    await new Promise((r) => setImmediate(r));
    expect(consumer.commits.flat().map((c) => c.offset)).toEqual([1]);
  });

  it('U1: a settle behind a slow message is written to the metadata within the interval, not on every settle', async () => {
    const { consumer, ps, committer } = setup();
    for (let o = 0; o < 4; o++) ps.tracker.add(o);
    ps.tracker.settle(1);
    committer.request();
    await waitFor(() => consumer.commits.length === 1, 'the first metadata commit');
    ps.tracker.settle(2);
    committer.request(); // within METADATA_COMMIT_INTERVAL_MS of the last one: deferred
    await new Promise((r) => setImmediate(r));
    expect(consumer.commits.length).toBe(1);
    await waitFor(() => consumer.commits.length === 2, 'the deferred metadata commit', 1_000);
    const last = consumer.commits[1]![0]!;
    expect(last.offset).toBe(0);
    const d = decodeSettled(last.metadata, 0)!;
    expect([d.has(1), d.has(2), d.has(3)]).toEqual([true, true, false]);
    committer.stop();
  });

  it('U1: metadata the broker refuses as too large is shortened, the offset still committed', async () => {
    const { consumer, ps, committer } = setup();
    const realCommit = consumer.commit.bind(consumer);
    let refused = 0;
    consumer.commit = async (offsets) => {
      if (offsets.some((o) => (o.metadata?.length ?? 0) > 100)) {
        refused++;
        throw Object.assign(new Error('OFFSET_METADATA_TOO_LARGE'), { metadataTooLarge: true });
      }
      await realCommit(offsets);
    };
    for (let o = 0; o < 20_000; o++) ps.tracker.add(o);
    for (let o = 1; o < 20_000; o += 2) ps.tracker.settle(o); // alternating: a long bitset
    await committer.flush();
    expect(refused).toBeGreaterThan(0);
    expect(consumer.commits.flat()[0]!.offset).toBe(0);
    committer.stop();
  });

  it('U3: never commits below the highest committed offset known', async () => {
    const { consumer, ps, committer } = setup();
    ps.committed = 50;
    ps.tracker.add(10);
    ps.tracker.settle(10);
    await committer.flush();
    expect(consumer.commits).toEqual([]);
  });
});

describe('kafkajs driver', () => {
  it('S2: pause and resume never throw while the consumer is not running', async () => {
    const client = await loadKafkaJsDriver({ brokers: ['127.0.0.1:1'], clientId: 'unit', connectionTimeoutMs: 100, requestTimeoutMs: 100, idempotent: false });
    const consumer = client.groupConsumer({
      groupId: 'g',
      topics: ['t'],
      sessionTimeoutMs: 6_000,
      rebalanceTimeoutMs: 10_000,
      heartbeatIntervalMs: 500,
      maxWaitTimeMs: 100,
      maxBytesPerPartition: 1_048_576,
      partitionsConcurrently: 1,
    });
    // kafkajs throws "Consumer group was not initialized" here (no run yet, or between a crash
    // and its restart).
    expect(() => consumer.pause('t', [0])).not.toThrow();
    expect(() => consumer.resume('t', [0])).not.toThrow();
    expect(() => consumer.pause('t')).not.toThrow();
  });
});
