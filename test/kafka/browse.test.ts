/**
 * BrowsableBus on Kafka (used by the DLQ tools): newest-first browse; remove by selection,
 * keeping unselected records and their bytes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isBrowsable } from '../../src/eventbus/types.js';
import { cleanup, makeBus, msg, text, topicName } from './helpers.js';

afterEach(cleanup);

describe('kafka browse/remove', () => {
  it('browses newest first, removes selected records and keeps the rest', { timeout: 60_000 }, async () => {
    const bus = await makeBus({ topics: { partitions: 2, replicationFactor: 1 } });
    expect(isBrowsable(bus)).toBe(true);
    const topic = topicName('browse');
    expect(await bus.browse(topic, 10)).toEqual([]); // no topic yet: nothing retained
    for (let i = 0; i < 6; i++) await bus.publish(topic, msg(`m${i}`, `k${i}`, { job_id: String(i) }));
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
});
