/** Ordering lanes kept per partition (the Kafka dispatcher's): the same rule as one lane per partition + key. */
import { describe, expect, it } from 'vitest';
import { createPartitionedLanes, laneInPartition } from '../../src/eventbus/lanes.js';

describe('partitioned lanes', () => {
  it('lane within a partition per ordering mode', () => {
    expect(laneInPartition('none', 'a')).toBeUndefined();
    expect(laneInPartition('partition', 'a')).toBe(laneInPartition('partition', 'b'));
    expect(laneInPartition('key', 'a')).not.toBe(laneInPartition('key', 'b'));
    expect(laneInPartition('key', undefined)).toBeUndefined();
  });

  it('runs a key one at a time per partition, in arrival order; the same key in another partition at once', () => {
    const lanes = createPartitionedLanes<string>();
    expect(lanes.admit(0, 'k', 'a1')).toBe(true);
    expect(lanes.admit(1, 'k', 'b1')).toBe(true); // another partition: another lane
    expect(lanes.admit(0, 'k', 'a2')).toBe(false);
    expect(lanes.admit(0, 'k', 'a3')).toBe(false);
    expect(lanes.admit(0, undefined, 'x')).toBe(true);
    expect(lanes.admit(1, '', 'p1')).toBe(true);
    expect(lanes.admit(1, '', 'p2')).toBe(false);
    expect(lanes.waiting()).toBe(3);
    expect(lanes.release(0, 'k')).toBe('a2');
    expect(lanes.release(0, 'k')).toBe('a3');
    expect(lanes.release(0, 'k')).toBeUndefined();
    expect(lanes.admit(0, 'k', 'a4')).toBe(true); // lane free again
    expect(lanes.release(1, 'k')).toBeUndefined();
    expect(lanes.release(2, 'k')).toBeUndefined(); // a partition never used
    expect(lanes.release(0, undefined)).toBeUndefined();
    expect(lanes.waiting()).toBe(1);
    expect(lanes.removeWaiting(() => true)).toEqual(['p2']);
    expect(lanes.waiting()).toBe(0);
  });

  it('removes waiting items selectively across partitions', () => {
    const lanes = createPartitionedLanes<{ p: number; id: string }>();
    lanes.admit(0, 'k', { p: 0, id: 'r0' });
    lanes.admit(0, 'k', { p: 0, id: 'w0' });
    lanes.admit(1, 'k', { p: 1, id: 'r1' });
    lanes.admit(1, 'k', { p: 1, id: 'w1' });
    lanes.admit(1, 'k', { p: 1, id: 'w2' });
    expect(lanes.removeWaiting((x) => x.p === 1 && x.id === 'w1').map((x) => x.id)).toEqual(['w1']);
    expect(lanes.waiting()).toBe(2);
    expect(lanes.release(1, 'k')?.id).toBe('w2');
    expect(lanes.release(0, 'k')?.id).toBe('w0');
  });
});
