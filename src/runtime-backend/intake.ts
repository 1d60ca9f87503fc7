/**
 * Where delivered jobs meet reserve calls: a job delivered while a reserve for its queue waits
 * goes straight to it; otherwise it is buffered, per queue, in delivery order, until a reserve
 * takes it. A buffered job whose delivery the bus takes back (its signal aborts: partition
 * revoked, subscription closed) leaves the buffer at once (U4); once taken by a reserve it is
 * no longer watched (a leased job runs on, its late settle ignored by the bus). A job of a
 * paused queue is buffered, never handed to a waiting reserve.
 */
import type { Held, Waiter } from './held.js';

/** The buffers and waiting reserves of one backend. */
export interface Intake {
  /** A job was delivered: hand it to a waiting reserve of its queue, else buffer it. */
  offer(held: Held): void;
  /** The first buffered job of the first queue in `queues` that has one; taken-back ones are dropped on the way. */
  take(queues: readonly string[]): Held | undefined;
  /** Wait up to `timeoutMs` (or until `signal` aborts) for a job of `queues` to be offered. */
  wait(queues: readonly string[], timeoutMs: number, signal: AbortSignal | undefined): Promise<Held | undefined>;
  /** Jobs buffered for `queue`. */
  bufferedCount(queue: string): number;
  /** Take every buffered job of `queue` out (all queues when omitted). */
  drain(queue?: string): Held[];
  /** Every buffered job (to keep them alive). */
  buffered(): Iterable<Held>;
  /** End every waiting reserve with no job (close). */
  cancelWaits(): void;
}

/**
 * Create an intake. `dropped` gets each buffered job whose delivery the bus took back, to
 * settle it (it is out of the buffer already); `paused(queue)` says whether a queue is paused.
 */
export function createIntake(dropped: (held: Held) => void, paused: (queue: string) => boolean = () => false): Intake {
  const buffers = new Map<string, Held[]>();
  const waiters = new Set<Waiter>();
  // Buses share one signal among many deliveries: one listener per signal, not per job. An
  // abort is rare, so it scans the buffers for that signal's jobs rather than every buffered
  // job being added to and removed from a set of its signal's.
  const watched = new WeakSet<AbortSignal>();
  let lastWatched: AbortSignal | undefined;

  function watch(held: Held): void {
    const signal = held.signal;
    if (!signal || signal === lastWatched) return;
    lastWatched = signal;
    if (watched.has(signal)) return;
    watched.add(signal);
    signal.addEventListener('abort', () => takenBack(signal), { once: true });
  }

  function takenBack(signal: AbortSignal): void {
    for (const buf of buffers.values()) {
      const kept = buf.filter((held) => held.signal !== signal);
      if (kept.length === buf.length) continue;
      const gone = buf.filter((held) => held.signal === signal);
      buf.splice(0, buf.length, ...kept);
      for (const held of gone) dropped(held);
    }
  }

  return {
    offer(held) {
      // Checked first: with no reserve waiting (the common case under load) no iterator is made.
      if (waiters.size > 0 && !paused(held.queue)) {
        for (const w of waiters) {
          if (w.queues.includes(held.queue)) {
            waiters.delete(w);
            w.resolve(held);
            return;
          }
        }
      }
      let buf = buffers.get(held.queue);
      if (!buf) buffers.set(held.queue, (buf = []));
      buf.push(held);
      watch(held);
    },

    take(queues) {
      for (const q of queues) {
        const buf = buffers.get(q);
        while (buf && buf.length > 0) {
          const held = buf.shift()!;
          if (!held.signal?.aborted) return held;
          dropped(held);
        }
      }
      return undefined;
    },

    wait(queues, timeoutMs, signal) {
      return new Promise<Held | undefined>((resolve) => {
        const done = (held: Held | undefined): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', giveUp);
          resolve(held);
        };
        const waiter: Waiter = { queues, resolve: done };
        const giveUp = (): void => {
          waiters.delete(waiter);
          done(undefined);
        };
        const timer = setTimeout(giveUp, timeoutMs);
        signal?.addEventListener('abort', giveUp, { once: true });
        waiters.add(waiter);
      });
    },

    bufferedCount: (queue) => buffers.get(queue)?.length ?? 0,

    drain(queue) {
      return queue === undefined ? [...buffers.values()].flatMap((b) => b.splice(0)) : (buffers.get(queue)?.splice(0) ?? []);
    },

    *buffered() {
      for (const buf of buffers.values()) yield* buf;
    },

    cancelWaits() {
      for (const w of waiters) w.resolve(undefined);
      waiters.clear();
    },
  };
}
