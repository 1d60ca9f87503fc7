/**
 * Which queue a worker serves next: the highest priority with room under its own
 * concurrency, unless a queue with jobs waiting was passed over `fairnessLimit` times in a
 * row — that one goes first (no starvation).
 */
import type { QueueSpec } from '../jobs/config.js';
import { bump } from './counts.js';

/** The queue order of one worker. */
export interface QueueOrder {
  /** Queues that may take a job now, best first. */
  order(): readonly QueueSpec[];
  /** Names of `order`'s queues (no allocation for the constant single-queue order). */
  namesOf(order: readonly QueueSpec[]): readonly string[];
  /** A job of `picked` was reserved from `order`: count the queues with work it passed over. */
  picked(order: readonly QueueSpec[], picked: string): void;
  /** A job of `queue` started (+1) or finished (-1): queue concurrency bookkeeping. */
  track(queue: string, by: 1 | -1): void;
}

/** Create the order of `queues`; `waiting(queue)` says whether a queue has jobs buffered. */
export function createQueueOrder(queues: readonly QueueSpec[], fairnessLimit: number, waiting: (queue: string) => boolean): QueueOrder {
  // Priorities never change: sort once. With one uncapped queue the order is a constant.
  const byPriority = [...queues].sort((a, b) => b.priority - a.priority);
  const priorityNames = byPriority.map((q) => q.name);
  const singleQueue = queues.length === 1 && queues[0]!.concurrency === undefined;
  const running = new Map<string, number>();
  const passedOver = new Map<string, number>();

  return {
    order() {
      if (singleQueue) return byPriority;
      const eligible = byPriority.filter((q) => (running.get(q.name) ?? 0) < (q.concurrency ?? Infinity));
      let starving: QueueSpec | undefined;
      for (const q of eligible) {
        const n = passedOver.get(q.name) ?? 0;
        if (n >= fairnessLimit && n > (starving ? passedOver.get(starving.name) ?? 0 : -1)) starving = q;
      }
      return starving ? [starving, ...eligible.filter((q) => q !== starving)] : eligible;
    },
    namesOf: (order) => (order === byPriority ? priorityNames : order.map((q) => q.name)),
    picked(order, picked) {
      if (queues.length < 2) return;
      passedOver.delete(picked);
      let before = true;
      for (const q of order) {
        if (q.name === picked) {
          before = false;
          continue;
        }
        // Only queues behind the picked one, with jobs waiting, were passed over.
        if (!before && waiting(q.name)) bump(passedOver, q.name, 1);
      }
    },
    // Only order() reads the counts, and the single uncapped queue's order needs none.
    track(queue, by) {
      if (!singleQueue) bump(running, queue, by);
    },
  };
}
