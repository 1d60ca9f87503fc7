/**
 * Per-partition ack tracking: which fetched offsets are settled, and which offset may be
 * committed. Pure data structure, no I/O.
 *
 * State of one offset:
 *
 *   (not tracked) --add--> UNSETTLED --settle--> SETTLED --(prefix)--> dropped from memory
 *
 * The committable offset is the first UNSETTLED offset, or one past the last added offset when
 * nothing is unsettled. So a failed or slow message is never skipped by a commit of later
 * successes: the commit stops in front of it (uForwarder's AckTrackingQueue idea). The settled
 * offsets behind it travel in the commit metadata instead (offset-metadata.ts).
 *
 * Memory: one byte per offset from the oldest unsettled one to the newest added one (the
 * *span*, {@link PartitionTracker.span}), in a ring buffer; offsets the log skips (compaction,
 * transaction markers) inside the span count as settled. The caller bounds the span
 * (`maxOffsetSpan`), so memory is bounded however long one message stays unsettled.
 */
import { encodeSettled } from './offset-metadata.js';

/** Ack tracker of one topic-partition. */
export interface PartitionTracker {
  /**
   * Track a fetched offset, unsettled unless `settled` (a record skipped because the commit
   * metadata says it was settled before). Offsets must grow; an offset at or below the last one
   * is ignored (refetch) and false returned.
   */
  add(offset: number, settled?: boolean): boolean;
  /** Mark an offset settled. Returns true when the committable offset moved. Unknown offsets are ignored. */
  settle(offset: number): boolean;
  /** Offset to commit (Kafka convention: the next offset to read), or undefined when nothing was added yet. */
  committable(): number | undefined;
  /** Next offset this tracker expects (last added + 1), or undefined. */
  nextOffset(): number | undefined;
  /** Tracked offsets not settled yet. */
  unsettled(): number;
  /** Offsets held in memory: from the oldest unsettled one through the newest added one (0 when all are settled). */
  span(): number;
  /** Commit metadata naming the settled offsets above {@link committable} (offset-metadata.ts), at most `maxChars`. */
  metadata(maxChars: number): string;
}

/** Create an empty tracker. */
export function createPartitionTracker(): PartitionTracker {
  // Ring of states (0 unsettled, 1 settled) for offsets base .. base + len - 1. Invariant: the
  // entry at `head` (offset `base`) is unsettled whenever len > 0.
  let ring = new Uint8Array(64);
  let head = 0;
  let len = 0;
  let base = 0;
  let last: number | undefined;
  let unsettledCount = 0;

  const at = (i: number): number => ring[(head + i) & (ring.length - 1)]!;
  const push = (state: number): void => {
    if (len === ring.length) {
      const bigger = new Uint8Array(ring.length * 2);
      for (let i = 0; i < len; i++) bigger[i] = at(i);
      ring = bigger;
      head = 0;
    }
    ring[(head + len) & (ring.length - 1)] = state;
    len++;
  };
  const popSettled = (): void => {
    while (len > 0 && ring[head] === 1) {
      head = (head + 1) & (ring.length - 1);
      len--;
      base++;
    }
  };

  return {
    add(offset, settled = false) {
      if (last !== undefined && offset <= last) return false;
      if (len === 0) {
        // Nothing unsettled behind it: no need to remember the gap or the settled ones before.
        base = offset;
      } else {
        for (let o = last! + 1; o < offset; o++) push(1); // skipped by the log: nothing to wait for
      }
      last = offset;
      if (settled && len === 0) {
        base = offset + 1;
        return true;
      }
      push(settled ? 1 : 0);
      if (!settled) unsettledCount++;
      return true;
    },
    settle(offset) {
      const i = offset - base;
      if (i < 0 || i >= len) return false;
      const idx = (head + i) & (ring.length - 1);
      if (ring[idx] === 1) return false;
      ring[idx] = 1;
      unsettledCount--;
      if (i !== 0) return false;
      popSettled();
      return true;
    },
    committable() {
      if (last === undefined) return undefined;
      return len > 0 ? base : last + 1;
    },
    nextOffset() {
      return last === undefined ? undefined : last + 1;
    },
    unsettled() {
      return unsettledCount;
    },
    span() {
      return len;
    },
    metadata(maxChars) {
      if (len <= 1) return '';
      return encodeSettled(base, len - 1, (i) => at(i + 1) === 1, maxChars);
    },
  };
}
