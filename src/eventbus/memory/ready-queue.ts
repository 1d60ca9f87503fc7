/**
 * The memory bus's ready queue, and why it is not the shared `createLanes` (eventbus/lanes.ts),
 * whose lane rule (`laneOf`) it does use:
 * - Lanes hold only what waits behind a busy lane and say "run now" for the rest: the caller
 *   must cap what it admits (Kafka: maxInFlight). Here the queue is a group's whole backlog (up
 *   to `retainPerTopic` messages), taken one at a time when a member has a free slot; capping it
 *   into lanes would let one hot key's backlog block every other key, which it does not today.
 * - Taking is oldest-first over all lanes and the keyless FIFO (`seq` order), and a redelivery
 *   goes back in front of its key: lanes keep neither a cross-lane order nor a front.
 * - A lane here can hold 100 000 messages (ordering `partition`): the array `shift` of lanes
 *   would make draining it quadratic; {@link Deque} is O(1).
 */

/** A FIFO with O(1) push, shift and unshift (an array with a moving head). */
export class Deque<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(x: T): void {
    this.items.push(x);
  }

  unshift(x: T): void {
    if (this.head > 0) this.items[--this.head] = x;
    else this.items.unshift(x);
  }

  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head]!;
    this.items[this.head++] = undefined as T; // let it be collected
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }

  /** Remove the items for which `drop` is true; returns how many. */
  removeWhere(drop: (x: T) => boolean): number {
    const kept = this.items.slice(this.head).filter((x) => !drop(x));
    const removed = this.length - kept.length;
    this.items = kept;
    this.head = 0;
    return removed;
  }
}

/**
 * The ready messages of one consumer group, by ordering key. Messages without a key go to a
 * plain FIFO; keyed ones wait in a lane per key. A key is *busy* from the moment one of its
 * messages is taken until {@link ReadyQueue.release} (settled, or back after a redelivery
 * delay), and a busy key's lane is not offered: equal keys never run at once and stay in order.
 * Taking is O(1): `runnable` lists the keys that are not busy and have a waiting message.
 */
export class ReadyQueue<T extends { readonly seq: number }> {
  private readonly free = new Deque<T>();
  private readonly lanes = new Map<string, Deque<T>>();
  private readonly runnable = new Deque<string>();
  private readonly inRunnable = new Set<string>();
  private readonly busy = new Set<string>();
  private count = 0;

  constructor(private readonly keyOf: (item: T) => string | undefined) {}

  /** Messages waiting (not taken). */
  get size(): number {
    return this.count;
  }

  /** Append a new message. */
  push(item: T): void {
    this.add(item, false);
  }

  /** Put a message back in front of its key (a redelivery: it is older than what waits). */
  pushFront(item: T): void {
    this.add(item, true);
  }

  /** The oldest message that may run now (its key is then busy), or undefined. */
  take(): { item: T; key: string | undefined } | undefined {
    let laneKey: string | undefined;
    let lane: Deque<T> | undefined;
    while (this.runnable.length > 0) {
      const k = this.runnable.peek()!;
      const l = this.lanes.get(k);
      if (l && l.length > 0 && !this.busy.has(k)) {
        laneKey = k;
        lane = l;
        break;
      }
      this.runnable.shift(); // stale: emptied by removeWhere, or busy again
      this.inRunnable.delete(k);
    }
    const freeHead = this.free.peek();
    if (lane && laneKey !== undefined && (!freeHead || lane.peek()!.seq < freeHead.seq)) {
      this.runnable.shift();
      this.inRunnable.delete(laneKey);
      const item = lane.shift()!;
      if (lane.length === 0) this.lanes.delete(laneKey);
      this.busy.add(laneKey);
      this.count--;
      return { item, key: laneKey };
    }
    if (!freeHead) return undefined;
    this.free.shift();
    this.count--;
    return { item: freeHead, key: undefined };
  }

  /** The key's message was settled (or is back from its redelivery delay): offer the key again. */
  release(key: string | undefined): void {
    if (key === undefined) return;
    this.busy.delete(key);
    this.markRunnable(key);
  }

  /** Drop waiting messages for which `drop` is true; returns how many. */
  removeWhere(drop: (item: T) => boolean): number {
    let n = this.free.removeWhere(drop);
    for (const [k, lane] of this.lanes) {
      n += lane.removeWhere(drop);
      if (lane.length === 0) this.lanes.delete(k);
    }
    this.count -= n;
    return n;
  }

  private add(item: T, front: boolean): void {
    this.count++;
    const key = this.keyOf(item);
    if (key === undefined) {
      if (front) this.free.unshift(item);
      else this.free.push(item);
      return;
    }
    let lane = this.lanes.get(key);
    if (!lane) this.lanes.set(key, (lane = new Deque<T>()));
    if (front) lane.unshift(item);
    else lane.push(item);
    this.markRunnable(key);
  }

  private markRunnable(key: string): void {
    if (this.busy.has(key) || this.inRunnable.has(key) || !this.lanes.get(key)?.length) return;
    this.runnable.push(key);
    this.inRunnable.add(key);
  }
}
