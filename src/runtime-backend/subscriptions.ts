/**
 * The backend's runtime subscription per queue, made by the first reserve of the queue.
 *
 *   none --first reserve--> subscribing --> subscribed --detach--> detaching --> none
 *                               `--subscribe failed--> none (the next reserve tries again)
 *
 * A later reserve subscribes a detached queue again (once the detach is over); close ends every
 * subscription for good. A detach waits for a subscribe still under way.
 */
import type { DeliveryContext, Job, Runtime, RuntimeSubscribeOptions } from '../jobs/types.js';

/** The subscriptions of one backend. */
export interface QueueSubscriptions {
  /**
   * Subscribe every queue of `queues` not subscribed yet: a promise resolving once all are, or
   * `undefined` when all are already (the hot path of every reserve: no promise at all).
   */
  ensure(queues: readonly string[]): Promise<void> | undefined;
  /** Whether every queue of `queues` is subscribed (what {@link ensure} returns `undefined` for). */
  subscribed(queues: readonly string[]): boolean;
  /** Whether `queue` is subscribed or being subscribed. */
  has(queue: string): boolean;
  /** Whether `queue` is being detached (a delivery arriving now is to be refused). */
  detaching(queue: string): boolean;
  /**
   * Unsubscribe `queue`, then call `afterwards` (to settle what was buffered: the bus ignores
   * late settles of deliveries it took back). Deliveries arriving meanwhile see `detaching`.
   */
  detach(queue: string, afterwards: () => void): Promise<void>;
  /** Unsubscribe every queue (close). */
  closeAll(): Promise<void>;
}

/** Create the subscriptions of a backend; `deliver` holds each delivered job of a queue. */
export function createQueueSubscriptions(
  runtime: Runtime,
  options: RuntimeSubscribeOptions,
  deliver: (queue: string, job: Job, ctx: DeliveryContext) => Promise<void>,
): QueueSubscriptions {
  const subscribing = new Map<string, Promise<void>>();
  const subscribed = new Set<string>();
  const detaching = new Map<string, Promise<void>>();

  function allSubscribed(queues: readonly string[]): boolean {
    for (const q of queues) if (!subscribed.has(q)) return false;
    return true;
  }

  async function ensureOne(queue: string): Promise<void> {
    let p = subscribing.get(queue);
    if (!p) {
      const subscribe = (): Promise<void> => runtime.subscribe(queue, (job, ctx) => deliver(queue, job, ctx), options);
      const previous = detaching.get(queue); // a queue being detached is subscribed again only once it is
      p = previous ? previous.then(subscribe) : subscribe();
      subscribing.set(queue, p);
      p.then(
        () => subscribed.add(queue),
        () => subscribing.delete(queue),
      );
    }
    await p;
  }

  return {
    subscribed: (queues) => allSubscribed(queues),
    ensure(queues) {
      if (allSubscribed(queues)) return undefined;
      return Promise.all(queues.map(ensureOne)).then(() => undefined);
    },
    has: (queue) => subscribing.has(queue),
    detaching: (queue) => detaching.has(queue),
    async detach(queue, afterwards) {
      const under = subscribing.get(queue);
      subscribing.delete(queue);
      subscribed.delete(queue);
      const done = (async () => {
        await under?.catch(() => undefined);
        await runtime.unsubscribe(queue);
        afterwards();
      })();
      const settled = done.then(
        () => undefined,
        () => undefined,
      );
      detaching.set(queue, settled);
      try {
        await done;
      } finally {
        if (detaching.get(queue) === settled) detaching.delete(queue);
      }
    },
    async closeAll() {
      await Promise.allSettled([...subscribing.keys()].map((q) => runtime.unsubscribe(q)));
    },
  };
}
