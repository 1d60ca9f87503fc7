/**
 * BrowsableBus on Kafka (used by the DLQ tools): newest-first browse; remove by selection,
 * keeping unselected records and their bytes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isBrowsable } from '../../src/eventbus/types.js';
import type { OffsetRange } from '../../src/eventbus/kafka/index.js';
import { cleanup, makeBus, msg, text, topicName } from './helpers.js';
import { wrappedClient } from './wrapped-client.js';

afterEach(cleanup);

/** Resolve once Date.now() has moved past the millisecond it was called in. */
async function nextMillisecond(): Promise<void> {
  const now = Date.now();
  while (Date.now() === now) await new Promise((r) => setImmediate(r));
}

describe('kafka browse/remove', () => {
  it('browses newest first, removes selected records and keeps the rest', { timeout: 60_000 }, async () => {
    const bus = await makeBus({ topics: { partitions: 2, replicationFactor: 1 } });
    expect(isBrowsable(bus)).toBe(true);
    const topic = topicName('browse');
    expect(await bus.browse(topic, 10)).toEqual([]); // no topic yet: nothing retained
    for (let i = 0; i < 6; i++) {
      // Newest first is by record timestamp (ms): two records of one ms on different partitions
      // have no order, so each publish waits for the next millisecond.
      await nextMillisecond();
      await bus.publish(topic, msg(`m${i}`, `k${i}`, { job_id: String(i) }));
    }
    const newest = await bus.browse(topic, 3);
    expect(newest.map((m) => text(m))).toEqual(['m5', 'm4', 'm3']);
    expect(newest[0]!.position).toMatch(new RegExp(`^${topic}/\\d+@\\d+$`));
    expect(newest[0]!.publishedAt).toBeInstanceOf(Date);
    expect(newest[0]!.headers).toEqual({ job_id: '5' });

    const removed = await bus.remove(topic, (m) => ['m1', 'm4'].includes(text(m)));
    expect(removed).toBe(2);
    const rest = await bus.browse(topic, 100);
    expect(rest.map((m) => text(m)).sort()).toEqual(['m0', 'm2', 'm3', 'm5']);
    const m0 = rest.find((m) => text(m) === 'm0')!;
    expect(m0.key).toBe('k0');
    expect(m0.headers).toEqual({ job_id: '0' });

    expect(await bus.remove(topic, () => true)).toBe(4);
    expect(await bus.browse(topic, 100)).toEqual([]);
  });

  it('R4: one remove call removes a set in one read of the topic; a later remove removes the right entries; none reappears', { timeout: 60_000 }, async () => {
    const reads: { topic: string; ranges: readonly OffsetRange[]; records: number }[] = [];
    const client = await wrappedClient({ onRead: (t, ranges, result) => void reads.push({ topic: t, ranges, records: result.length }) });
    const bus = await makeBus({ client, topics: { partitions: 2, replicationFactor: 1 } });
    const topic = topicName('r4');
    await bus.publishBatch(topic, Array.from({ length: 50 }, (_, i) => msg(`m${i}`, `k${i % 7}`, { job_id: `j${i}`, job_failed_at: `t${i}` })));
    const ids = async (): Promise<string[]> => (await bus.browse(topic, 1_000)).map((m) => m.headers.job_id!).sort();
    const all = Array.from({ length: 50 }, (_, i) => `j${i}`);

    // First replay: 3 entries in one call, selected by content (as the DLQ store does).
    reads.length = 0;
    const first = new Set(['j3', 'j17', 'j40']);
    expect(await bus.remove(topic, (m) => first.has(m.headers.job_id!))).toBe(3);
    expect(reads).toHaveLength(1); // one read of the topic, not one per entry
    expect(await ids()).toEqual(all.filter((id) => !first.has(id)).sort());

    // A later replay, after the survivors were re-appended at new offsets.
    const second = new Set(['j0', 'j25', 'j49']);
    expect(await bus.remove(topic, (m) => second.has(m.headers.job_id!))).toBe(3);
    const left = await ids();
    expect(left).toEqual(all.filter((id) => !first.has(id) && !second.has(id)).sort());
    expect(new Set(left).size).toBe(left.length); // no duplicates either
  });

  it('R4: remove reads in chunks of removeChunkRecords (bounded memory) and still keeps every survivor once', { timeout: 60_000 }, async () => {
    const reads: number[] = [];
    const client = await wrappedClient({ onRead: (_t, _ranges, result) => void reads.push(result.length) });
    const bus = await makeBus({ client, topics: { partitions: 1, replicationFactor: 1 }, removeChunkRecords: 8 });
    const topic = topicName('r4chunk');
    await bus.publishBatch(topic, Array.from({ length: 30 }, (_, i) => msg(`m${i}`, 'k', { job_id: `j${i}` })));
    reads.length = 0;
    // Selected entries far apart: the survivors between them exceed what remove holds in memory.
    const pick = new Set(['j1', 'j27']);
    expect(await bus.remove(topic, (m) => pick.has(m.headers.job_id!))).toBe(2);
    expect(Math.max(...reads)).toBeLessThanOrEqual(8);
    const left = (await bus.browse(topic, 100)).map((m) => m.headers.job_id!);
    expect(left.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `j${i}`).filter((id) => !pick.has(id)).sort());
    // The re-appended survivors (those before the last selected one) keep their relative order.
    const offsetOf = (position: string): number => Number(position.slice(position.lastIndexOf('@') + 1));
    const physical = (await bus.browse(topic, 100)).sort((a, b) => offsetOf(a.position) - offsetOf(b.position));
    const moved = physical.map((m) => Number(m.headers.job_id!.slice(1))).filter((i) => i < 27);
    expect(moved).toEqual([...moved].sort((a, b) => a - b));
  });
});
