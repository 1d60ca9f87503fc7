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
 * successes: the commit stops in front of it (uForwarder's AckTrackingQueue idea).
 */

interface Slot {
  readonly offset: number;
  settled: boolean;
}

/** Ack tracker of one topic-partition. */
export interface PartitionTracker {
  /** Track a fetched offset. Offsets must grow; an offset at or below the last one is ignored (refetch) and false returned. */
  add(offset: number): boolean;
  /** Mark an offset settled. Returns true when the committable offset moved. Unknown offsets are ignored. */
  settle(offset: number): boolean;
  /** Offset to commit (Kafka convention: the next offset to read), or undefined when nothing was added yet. */
  committable(): number | undefined;
  /** Next offset this tracker expects (last added + 1), or undefined. */
  nextOffset(): number | undefined;
  /** Tracked offsets not settled yet. */
  unsettled(): number;
}

/** Create an empty tracker. */
export function createPartitionTracker(): PartitionTracker {
  // Slots in offset order from index `head`; settled slots at the front are compacted away.
  let slots: Slot[] = [];
  let head = 0;
  const byOffset = new Map<number, Slot>();
  let last: number | undefined;
  let unsettledCount = 0;

  const compact = (): boolean => {
    const before = head;
    while (head < slots.length && slots[head]!.settled) {
      byOffset.delete(slots[head]!.offset);
      head++;
    }
    if (head > 1024 && head * 2 > slots.length) {
      slots = slots.slice(head);
      head = 0;
      return true;
    }
    return head !== before;
  };

  return {
    add(offset) {
      if (last !== undefined && offset <= last) return false;
      const slot: Slot = { offset, settled: false };
      slots.push(slot);
      byOffset.set(offset, slot);
      last = offset;
      unsettledCount++;
      return true;
    },
    settle(offset) {
      const slot = byOffset.get(offset);
      if (!slot || slot.settled) return false;
      slot.settled = true;
      unsettledCount--;
      const wasHead = slots[head] === slot;
      compact();
      return wasHead;
    },
    committable() {
      if (last === undefined) return undefined;
      const first = slots[head];
      return first ? first.offset : last + 1;
    },
    nextOffset() {
      return last === undefined ? undefined : last + 1;
    },
    unsettled() {
      return unsettledCount;
    },
  };
}
