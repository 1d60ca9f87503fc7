/** A set of objects that carry their own index, for the per-message hot paths. */

/** An item of a {@link SlotList}: its index there, -1 when in none. */
export interface Slotted {
  slot: number;
}

/**
 * Items in no particular order, each holding its index (`slot`): one item in and out per
 * message costs no hash-table rehash, as a Set's churn does. An item is in at most one list at
 * a time. Iterates over a snapshot, so items may be added or removed meanwhile.
 */
export class SlotList<T extends Slotted> implements Iterable<T> {
  readonly #items: T[] = [];

  /** Items in the list. */
  get size(): number {
    return this.#items.length;
  }

  /** Add `item` (not in the list). */
  add(item: T): void {
    item.slot = this.#items.length;
    this.#items.push(item);
  }

  /** Remove `item` if it is in the list. */
  delete(item: T): void {
    const i = item.slot;
    if (i < 0 || this.#items[i] !== item) return;
    const last = this.#items.pop()!;
    if (last !== item) {
      this.#items[i] = last;
      last.slot = i;
    }
    item.slot = -1;
  }

  [Symbol.iterator](): Iterator<T> {
    return this.#items.slice()[Symbol.iterator]();
  }
}
