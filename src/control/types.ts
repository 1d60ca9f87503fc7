/** The public types of pausing queues (see {@link Jobbus.pause}). */

/** A queue paused for a consumer group, as {@link Jobbus.paused} lists it. */
export interface PausedQueue {
  /** The queue. */
  readonly queue: string;
  /** The consumer group whose workers take no new job of it. */
  readonly group: string;
  /** When it was paused. */
  readonly pausedAt: Date;
}

/** What the control drives in a worker process: the lease backend of its workers. */
export interface QueueGate {
  /** Start no new job of `queue`. */
  pauseQueue(queue: string): void;
  /** Start jobs of `queue` again. */
  resumeQueue(queue: string): void;
  /** Take no job at all until `ready` settles. */
  gateUntil(ready: Promise<unknown>): void;
}
