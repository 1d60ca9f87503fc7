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

