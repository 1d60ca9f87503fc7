/**
 * Unit tests of the Kafka adapter's pure parts: ack tracker, ordering lanes, delay tiers,
 * header wire format, and the murmur2 partitioner (Java client vectors).
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createLanes, laneOf } from '../../src/eventbus/lanes.js';
import {
  DEFAULT_DELAY_TIERS_MS,
  delayTopicName,
  makeTiers,
  pickTier,
  isSubTierDelay,
  relayDecision,
  releaseAt,
  targetOfDelayTopic,
  tierName,
} from '../../src/eventbus/kafka/tiers.js';
import { keyHash, murmur2, stringKeyHash } from '../../src/eventbus/kafka/murmur2.js';
import { createPartitionTracker } from '../../src/eventbus/kafka/tracker.js';
import { decodeHeaders, encodeHeaders, toMessage } from '../../src/eventbus/kafka/wire.js';

describe('partition tracker', () => {
  it('commits only the contiguous settled prefix', () => {
    const t = createPartitionTracker();
    expect(t.committable()).toBeUndefined();
    for (const o of [10, 11, 12, 13]) expect(t.add(o)).toBe(true);
    expect(t.committable()).toBe(10);
    expect(t.settle(12)).toBe(false); // not the head: nothing committable moves
    expect(t.committable()).toBe(10);
    expect(t.settle(10)).toBe(true);
    expect(t.committable()).toBe(11); // 11 unsettled blocks 12
    expect(t.settle(11)).toBe(true);
    expect(t.committable()).toBe(13);
    expect(t.settle(13)).toBe(true);
    expect(t.committable()).toBe(14);
    expect(t.unsettled()).toBe(0);
  });

  it('ignores refetched offsets, unknown and double settles; handles offset gaps', () => {
    const t = createPartitionTracker();
    t.add(5);
    t.add(9); // gap (compaction / transaction markers)
    expect(t.add(9)).toBe(false);
    expect(t.add(3)).toBe(false);
    expect(t.settle(7)).toBe(false);
    expect(t.settle(5)).toBe(true);
    expect(t.settle(5)).toBe(false);
    expect(t.committable()).toBe(9);
    t.settle(9);
    expect(t.committable()).toBe(10);
    expect(t.nextOffset()).toBe(10);
  });

  it('never commits past an unsettled offset under random settle order', () => {
    for (let round = 0; round < 50; round++) {
      const t = createPartitionTracker();
      const n = 200;
      for (let i = 0; i < n; i++) t.add(i);
      const order = [...Array(n).keys()].sort(() => Math.random() - 0.5);
      const settled = new Set<number>();
      for (const o of order.slice(0, 150)) {
        t.settle(o);
        settled.add(o);
        const c = t.committable()!;
        for (let i = 0; i < c; i++) expect(settled.has(i)).toBe(true);
        if (c < n) expect(settled.has(c)).toBe(false);
      }
    }
  });

  it('keeps memory bounded by unsettled offsets', () => {
    const t = createPartitionTracker();
    for (let i = 0; i < 100_000; i++) {
      t.add(i);
      t.settle(i);
    }
    expect(t.committable()).toBe(100_000);
    expect(t.unsettled()).toBe(0);
  });
});

describe('ordering lanes', () => {
  it('lane ids per ordering mode', () => {
    expect(laneOf('none', 1, 'a')).toBeUndefined();
    expect(laneOf('partition', 1, 'a')).toBe(laneOf('partition', 1, 'b'));
    expect(laneOf('key', 1, 'a')).not.toBe(laneOf('key', 1, 'b'));
    expect(laneOf('key', 1, 'a')).not.toBe(laneOf('key', 2, 'a'));
    expect(laneOf('key', 1, undefined)).toBeUndefined();
  });

  it('runs equal lanes one at a time in arrival order, others at once', () => {
    const lanes = createLanes<string>();
    expect(lanes.admit('a', 'a1')).toBe(true);
    expect(lanes.admit('b', 'b1')).toBe(true);
    expect(lanes.admit('a', 'a2')).toBe(false);
    expect(lanes.admit('a', 'a3')).toBe(false);
    expect(lanes.admit(undefined, 'x')).toBe(true);
    expect(lanes.waiting()).toBe(2);
    expect(lanes.release('a')).toBe('a2');
    expect(lanes.release('a')).toBe('a3');
    expect(lanes.release('a')).toBeUndefined();
    expect(lanes.admit('a', 'a4')).toBe(true); // lane free again
    expect(lanes.release('b')).toBeUndefined();
    expect(lanes.waiting()).toBe(0);
  });

  it('removes waiting items selectively', () => {
    const lanes = createLanes<{ p: number; id: string }>();
    lanes.admit('k', { p: 0, id: 'r' });
    lanes.admit('k', { p: 0, id: 'w1' });
    lanes.admit('k', { p: 1, id: 'w2' });
    expect(lanes.removeWaiting((x) => x.p === 0).map((x) => x.id)).toEqual(['w1']);
    expect(lanes.waiting()).toBe(1);
    expect(lanes.release('k')?.id).toBe('w2');
  });
});

describe('delay tiers', () => {
  const tiers = makeTiers(DEFAULT_DELAY_TIERS_MS);

  it('names and topics', () => {
    expect(tiers.map((t) => t.name)).toEqual(['1s', '10s', '1m', '10m', '1h']);
    expect(tierName(250)).toBe('250ms');
    expect(tierName(1_500)).toBe('1500ms');
    expect(delayTopicName('orders', tiers[1]!)).toBe('orders.delay.10s');
    expect(targetOfDelayTopic('orders.delay.10s')).toBe('orders');
    expect(targetOfDelayTopic('a.b.delay.250ms')).toBe('a.b');
    expect(targetOfDelayTopic('orders')).toBeUndefined();
  });

  it('rejects bad ladders', () => {
    expect(() => makeTiers([])).toThrow(/at least one/);
    expect(() => makeTiers([1000, 1000])).toThrow(/duplicate/);
    expect(() => makeTiers([0])).toThrow(/positive/);
    expect(() => makeTiers([1.5])).toThrow(/positive/);
    expect(makeTiers([10_000, 1_000]).map((t) => t.ms)).toEqual([1_000, 10_000]);
  });

  it('picks the largest tier not longer than the remaining delay', () => {
    expect(pickTier(tiers, 300).ms).toBe(1_000); // below the smallest: smallest (publish holds those in the subscriber instead)
    expect(pickTier(tiers, 1_000).ms).toBe(1_000);
    expect(pickTier(tiers, 9_999).ms).toBe(1_000);
    expect(pickTier(tiers, 10_000).ms).toBe(10_000);
    expect(pickTier(tiers, 59 * 60_000).ms).toBe(600_000);
    expect(pickTier(tiers, 5 * 3_600_000).ms).toBe(3_600_000);
  });

  it('release times grow with entry times within a tier (head-of-line waiting is correct)', () => {
    const t = tiers[0]!;
    let prev = -Infinity;
    for (let entered = 0; entered < 10_000; entered += 37) {
      const remaining = t.ms + ((entered * 7919) % 9_000); // any remaining >= tier
      const r = releaseAt(t, entered, entered + remaining);
      expect(r).toBeGreaterThanOrEqual(prev); // monotone
      prev = r;
    }
  });

  it('relay decisions: wait, hop, forward; forward early only with less than the smallest tier left', () => {
    const t1 = tiers[0]!;
    // entered at 0, due at 25 s: wait until 1 s, then hop to the 10 s tier
    expect(relayDecision(tiers, t1, 500, 0, 25_000)).toEqual({ kind: 'wait', untilMs: 1_000 });
    expect(relayDecision(tiers, t1, 1_000, 0, 25_000)).toEqual({ kind: 'hop', tier: tiers[1] });
    // due within the tier: wait until due, then forward
    expect(relayDecision(tiers, t1, 100, 0, 600)).toEqual({ kind: 'wait', untilMs: 600 });
    expect(relayDecision(tiers, t1, 600, 0, 600)).toEqual({ kind: 'forward', early: false });
    // tier over with less than the smallest tier left: forward early (the subscriber holds it)
    // instead of queueing in the smallest tier behind messages released up to 1 s later
    expect(relayDecision(tiers, t1, 1_000, 0, 1_030)).toEqual({ kind: 'forward', early: true });
    expect(relayDecision(tiers, tiers[1]!, 10_000, 0, 10_999)).toEqual({ kind: 'forward', early: true });
    expect(relayDecision(tiers, tiers[1]!, 10_000, 0, 11_000)).toEqual({ kind: 'hop', tier: t1 });
    expect(isSubTierDelay(tiers, 999)).toBe(true);
    expect(isSubTierDelay(tiers, 1_000)).toBe(false);
    // property: never forward before release; forward early only with < smallest tier left;
    // hop only into a tier no longer than what is left
    for (let i = 0; i < 1_000; i++) {
      const entered = Math.floor(Math.random() * 1e6);
      const due = entered + Math.floor(Math.random() * 30_000);
      const now = entered + Math.floor(Math.random() * 40_000);
      const d = relayDecision(tiers, t1, now, entered, due);
      if (d.kind === 'forward' && !d.early) expect(now).toBeGreaterThanOrEqual(due);
      if (d.kind === 'forward' && d.early) expect(due - now).toBeLessThan(t1.ms);
      if (d.kind === 'forward') expect(now).toBeGreaterThanOrEqual(releaseAt(t1, entered, due));
      if (d.kind === 'hop') expect(d.tier.ms).toBeLessThanOrEqual(due - now);
    }
  });
});

describe('header wire format', () => {
  it('round-trips UTF-8 headers as strings', () => {
    const enc = encodeHeaders({ job_id: 'abc', note: 'héllo ✓' });
    expect(decodeHeaders(enc)).toEqual({ job_id: 'abc', note: 'héllo ✓' });
  });

  it('poison: a non-UTF-8 header value is decoded lossily and named in invalidHeaders (strict check)', () => {
    const bad = Buffer.from([0xff, 0xfe, 0x00, 0xc3]);
    const m = toMessage(null, null, { job_id: Buffer.from('x'), blob: bad, ok: Buffer.from('a \uFFFD b'), bom: Buffer.from('\uFEFFz') });
    expect(m.invalidHeaders).toEqual(['blob']); // a real U+FFFD is valid UTF-8
    expect(m.headers.blob).toBe(bad.toString('utf8'));
    expect(m.headers.ok).toBe('a \uFFFD b');
    expect(m.headers.bom).toBe('\uFEFFz'); // a leading BOM is kept
    expect(m.headers.job_id).toBe('x');
    expect(toMessage(null, null, { job_id: Buffer.from('x') }).invalidHeaders).toBeUndefined();
    expect(encodeHeaders(m.headers).blob).toBe(bad.toString('utf8')); // a republish carries the lossy text
  });

  it('keeps a header named __proto__ as an ordinary header', () => {
    const raw = JSON.parse('{"__proto__": "x"}') as Record<string, string>;
    raw.other = 'y';
    const h = decodeHeaders({ ...raw, job_id: Buffer.from('j') });
    expect(Object.getPrototypeOf(h)).toBe(Object.prototype);
    expect(Object.keys(h).sort()).toEqual(['__proto__', 'job_id', 'other']);
    expect(h['__proto__']).toBe('x');
  });

  it('tolerates repeated, null and string header values; null key and value', () => {
    const h = decodeHeaders({ a: [Buffer.from('1'), Buffer.from('2')], b: undefined, c: 'plain', d: null });
    expect(h).toEqual({ a: '2', b: '', c: 'plain', d: '' });
    const m = toMessage(null, null, undefined);
    expect(m.key).toBeUndefined();
    expect(m.value).toEqual(new Uint8Array(0));
    expect(m.headers).toEqual({});
    expect(Object.getPrototypeOf(toMessage('k', Buffer.from('v'), {}).value)).toBe(Uint8Array.prototype);
  });
});

describe('murmur2 partitioner (kafkajs DefaultPartitioner vs the Java client)', () => {
  // Vectors of org.apache.kafka.common.utils.UtilsTest#testMurmur2: Utils.murmur2(bytes).
  // Java's DefaultPartitioner/BuiltInPartitioner: toPositive(murmur2(key)) % numPartitions,
  // with toPositive(x) = x & 0x7fffffff.
  const javaMurmur2: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  const require = createRequire(import.meta.url);
  const { Partitioners } = require('kafkajs') as {
    Partitioners: {
      DefaultPartitioner: () => (args: {
        topic: string;
        partitionMetadata: { partitionId: number; leader: number }[];
        message: { key: string | null; value: Buffer };
      }) => number;
    };
  };

  it.each(javaMurmur2)('key %s lands where the Java client puts it', (key, hash) => {
    const partition = Partitioners.DefaultPartitioner();
    for (const n of [1, 2, 3, 7, 8, 12, 64, 100]) {
      const partitionMetadata = Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 1 }));
      const got = partition({ topic: 't', partitionMetadata, message: { key, value: Buffer.from('') } });
      expect(got).toBe((hash & 0x7fffffff) % n);
    }
  });
});

describe('murmur2 key hash', () => {
  it('is bit for bit the hash of kafkajs and @platformatic/kafka (same partition for every key)', async () => {
    const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2') as (key: Buffer | string) => number;
    const plt = await import('@platformatic/kafka');
    const keys: string[] = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'job-1', 'order:42', 'ü', '日本語のキー', '\u{1F600}x', 'x'.repeat(300), '日'.repeat(200)];
    let seed = 12345;
    for (let i = 0; i < 500; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const len = seed % 40;
      let k = '';
      for (let j = 0; j < len; j++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        k += String.fromCharCode(32 + (seed % 0x3000));
      }
      keys.push(k);
    }
    // The Java client's own vectors (UtilsTest#testMurmur2).
    for (const [k, h] of [['21', -973932308], ['foobar', -790332482], ['a-little-bit-longer-string', -1486304829], ['abc', 479470107]] as const) {
      expect(murmur2(Buffer.from(k))).toBe(h);
    }
    for (const k of keys) {
      const bytes = Buffer.from(k, 'utf8');
      expect(murmur2(bytes), k).toBe(kafkajsMurmur2(bytes));
      expect(murmur2(bytes), k).toBe(plt.murmur2(bytes));
      expect(keyHash(bytes)).toBe(plt.compatibilityPartitioner(undefined as never, bytes));
      expect(stringKeyHash(k)).toBe(kafkajsMurmur2(k) & 0x7fffffff);
    }
  });
});
