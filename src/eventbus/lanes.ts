/**
 * Ordering lanes: decides which admitted messages may run now. Pure, no I/O.
 *
 * A lane is the unit of ordering: `key` ordering uses one lane per (partition, key),
 * `partition` ordering one lane per partition, `none` no lanes at all. At most one item of a
 * lane runs at a time; later items of the same lane wait in arrival (= offset) order. Items
 * without a lane run at once. The number of admitted items is capped by the caller, so the
 * waiting lists are bounded too.
 */
import type { Ordering } from './types.js';

/** Lane id of a message across partitions ({@link laneInPartition} qualified by its partition), or undefined when it may run concurrently with anything. */
export function laneOf(ordering: Ordering, partition: number, key: string | undefined): string | undefined {
  const lane = laneInPartition(ordering, key);
  return lane === undefined ? undefined : `${partition}\u0000${lane}`;
}

/**
 * The lane of a message within its partition: `none` no lane, `partition` one lane, `key` one
 * per key. A bus whose lanes are kept per partition ({@link createPartitionedLanes}) uses it as
 * it is, with no `partition + key` string built (and hashed) per message; others use {@link laneOf}.
 */
export function laneInPartition(ordering: Ordering, key: string | undefined): string | undefined {
  switch (ordering) {
    case 'none':
      return undefined;
    case 'partition':
      return '';
    case 'key':
      // Kafka spreads null-key messages round-robin: they promise no order, so none is kept.
      return key;
  }
}

/** FIFO lanes of waiting items. */
export interface Lanes<T> {
  /** Admit an item; true = it may run now, false = it waits behind its lane's running item. */
  admit(lane: string | undefined, item: T): boolean;
  /** The running item of `lane` is done: returns the next item to run (now owning the lane), if any. */
  release(lane: string | undefined): T | undefined;
  /** Remove waiting items for which `drop` returns true (e.g. of a revoked partition); returns them. */
  removeWaiting(drop: (item: T) => boolean): T[];
  /** Number of items waiting (not running). */
  waiting(): number;
}

/** Create an empty set of lanes. */
export function createLanes<T>(): Lanes<T> {
  // lane -> queue of waiting items; presence of the key means the lane has a running item.
  // A lane with nothing waiting (nearly every lane: keys are mostly unique) maps to the shared
  // NONE_WAITING, so that admitting an item costs no array; its own array comes with a waiter.
  const busy = new Map<string, T[]>();
  const NONE_WAITING: T[] = [];
  let waitingCount = 0;
  return {
    admit(lane, item) {
      if (lane === undefined) return true;
      const queue = busy.get(lane);
      if (!queue) {
        busy.set(lane, NONE_WAITING);
        return true;
      }
      if (queue === NONE_WAITING) busy.set(lane, [item]);
      else queue.push(item);
      waitingCount++;
      return false;
    },
    release(lane) {
      if (lane === undefined) return undefined;
      const queue = busy.get(lane);
      if (!queue) return undefined;
      const next = queue === NONE_WAITING ? undefined : queue.shift();
      if (next === undefined) {
        busy.delete(lane);
        return undefined;
      }
      waitingCount--;
      return next;
    },
    removeWaiting(drop) {
      const removed: T[] = [];
      for (const [lane, queue] of busy) {
        if (queue === NONE_WAITING) continue;
        const keep = queue.filter((item) => {
          if (drop(item)) {
            removed.push(item);
            return false;
          }
          return true;
        });
        busy.set(lane, keep);
      }
      waitingCount -= removed.length;
      return removed;
    },
    waiting() {
      return waitingCount;
    },
  };
}

/** {@link Lanes} of several partitions: a lane is a partition number and a lane within it ({@link laneInPartition}). */
export interface PartitionedLanes<T> {
  /** As {@link Lanes.admit}, in `partition`. */
  admit(partition: number, lane: string | undefined, item: T): boolean;
  /** As {@link Lanes.release}, in `partition`. */
  release(partition: number, lane: string | undefined): T | undefined;
  /** Remove waiting items (of every partition) for which `drop` returns true; returns them. */
  removeWaiting(drop: (item: T) => boolean): T[];
  /** Number of items waiting (not running), in every partition. */
  waiting(): number;
}

/** Create empty lanes for any number of partitions (each partition's made when first used). */
export function createPartitionedLanes<T>(): PartitionedLanes<T> {
  const byPartition = new Map<number, Lanes<T>>();
  const of = (partition: number): Lanes<T> => {
    let l = byPartition.get(partition);
    if (l === undefined) byPartition.set(partition, (l = createLanes<T>()));
    return l;
  };
  return {
    admit: (partition, lane, item) => lane === undefined || of(partition).admit(lane, item),
    release: (partition, lane) => (lane === undefined ? undefined : byPartition.get(partition)?.release(lane)),
    removeWaiting(drop) {
      const removed: T[] = [];
      for (const l of byPartition.values()) removed.push(...l.removeWaiting(drop));
      return removed;
    },
    waiting() {
      let n = 0;
      for (const l of byPartition.values()) n += l.waiting();
      return n;
    },
  };
}
