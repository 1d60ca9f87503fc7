/**
 * Many deadlines on one `setTimeout`: a binary min-heap of (due, callback) with a single
 * timer armed for the earliest due time. `clear()` leaves no timer running.
 */
export class TimerQueue {
  private heap: { due: number; seq: number; fn: () => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private seq = 0;

  /** Run `fn` once at (or just after) epoch-ms `due`. */
  add(due: number, fn: () => void): void {
    this.push({ due, seq: this.seq++, fn });
    this.arm();
  }

  /** Drop every pending callback and the timer. */
  clear(): void {
    this.heap = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  /** Number of pending callbacks. */
  get size(): number {
    return this.heap.length;
  }

  private arm(): void {
    const head = this.heap[0];
    if (!head) return;
    if (this.timer && this.armedFor <= head.due) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = head.due;
    // setTimeout caps at 2^31-1 ms; re-arm after a cap for far-away deadlines.
    const wait = Math.min(Math.max(0, head.due - Date.now()), 2_147_483_647);
    this.timer = setTimeout(() => this.fire(), wait);
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = Date.now();
    const due: (() => void)[] = [];
    while (this.heap.length > 0 && this.heap[0]!.due <= now) due.push(this.pop().fn);
    for (const fn of due) fn();
    this.arm();
  }

  private push(item: { due: number; seq: number; fn: () => void }): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): { due: number; seq: number; fn: () => void } {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  private less(a: { due: number; seq: number }, b: { due: number; seq: number }): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }
}
