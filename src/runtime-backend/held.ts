import { TimeoutError } from '../errors.js';
import type { Job, Lease } from '../jobs/types.js';

/**
 * A job held by the backend. The bus subscription's callback for it stays pending until
 * the job is settled, which is what makes the transport keep (and not redeliver) it.
 *
 *   buffered --reserve--> leased --ack/nack/moveToDLQ--> settled (callback resolves)
 *      |                    |--lease expires / release--> settled (callback rejects: redelivered)
 *      `--close------------------------------------------> settled (callback rejects: redelivered)
 */
export interface Held {
  readonly queue: string;
  readonly job: Job;
  readonly deliveryCount: number;
  readonly working: () => void;
  readonly signal: AbortSignal | undefined;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  token?: string;
  expiresAt?: number;
  settled: boolean;
}

/** A reserve call waiting for a job of one of `queues`. */
export interface Waiter {
  readonly queues: readonly string[];
  readonly resolve: (held: Held | undefined) => void;
}

/** A lease handed out by reserve/renew; `expiresAt` becomes a Date only when read. */
export class HeldLease implements Lease {
  constructor(
    readonly token: string,
    readonly job: Job,
    readonly queue: string,
    private readonly expiresAtMs: number,
    readonly deliveryCount: number,
  ) {}

  get expiresAt(): Date {
    return new Date(this.expiresAtMs);
  }
}


/** What {@link createTakenBackWatch} returns. */
export interface TakenBackWatch {
  /** Drop `held` (through the callback) if its delivery signal aborts while it is watched. */
  watch(held: Held): void;
  /** Stop watching `held` (settled, or taken out of the buffer). */
  unwatch(held: Held): void;
}

/**
 * Buffered jobs by the delivery signal that can take them back (U4). Buses share one signal
 * among many deliveries, so one listener per signal (not per job) hands them all to `onTakenBack`.
 */
export function createTakenBackWatch(onTakenBack: (held: Held) => void): TakenBackWatch {
  const watched = new WeakMap<AbortSignal, Set<Held>>();
  return {
    watch(held) {
      const signal = held.signal;
      if (!signal) return;
      let set = watched.get(signal);
      if (!set) {
        const helds = (set = new Set());
        watched.set(signal, helds);
        signal.addEventListener(
          'abort',
          () => {
            for (const h of helds) onTakenBack(h);
            helds.clear();
          },
          { once: true },
        );
      }
      set.add(held);
    },
    unwatch(held) {
      if (held.signal) watched.get(held.signal)?.delete(held);
    },
  };
}

/** `promise`, or a retryable TimeoutError after `ms` (the promise itself runs on). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
