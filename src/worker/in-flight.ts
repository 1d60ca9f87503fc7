/** The jobs a worker runs now. */
import type { Running } from './attempt.js';

/**
 * The running jobs of a worker, in no particular order, each holding its index (`slot`): one
 * job in and out per attempt costs no hash-table rehash, as a Set's churn does. Iterates over a
 * snapshot, so jobs may start or finish meanwhile.
 */
export class InFlight implements Iterable<Running> {
  readonly #items: Running[] = [];

  /** Jobs running. */
  get size(): number {
    return this.#items.length;
  }

  /** Add `r` (not in the list). */
  add(r: Running): void {
    r.slot = this.#items.length;
    this.#items.push(r);
  }

  /** Remove `r` if it is in the list. */
  delete(r: Running): void {
    const i = r.slot;
    if (i < 0 || this.#items[i] !== r) return;
    const last = this.#items.pop()!;
    if (last !== r) {
      this.#items[i] = last;
      last.slot = i;
    }
    r.slot = -1;
  }

  [Symbol.iterator](): Iterator<Running> {
    return this.#items.slice()[Symbol.iterator]();
  }
}
