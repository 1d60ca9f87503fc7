import type { Logger } from 'pino';
import type { PrefetchingBackend } from '../jobs/types.js';

/** Options of {@link createRuntimeBackend}. */
export interface RuntimeBackendOptions {
  /** Consumer group. Default `jobbus`. */
  readonly group?: string;
  /** Jobs held per queue at once, leased or buffered for the next reserve. Default 64. */
  readonly maxInFlight?: number;
  /** Transport ack timeout (how soon a crashed process's jobs come back), ms. Default 30 000. */
  readonly ackTimeoutMs?: number;
  /** Ordering of a queue's jobs by partition key. Default `key`. */
  readonly ordering?: 'key' | 'partition' | 'none';
  /** Close the runtime when the backend closes. Default true. */
  readonly ownsRuntime?: boolean;
  /**
   * Longest a settle publish (retry copy, DLQ copy) may take before the job is handed back,
   * ms. Default: two thirds of `ackTimeoutMs`; the delivery is kept alive meanwhile (U2).
   */
  readonly settleTimeoutMs?: number;
  /** Logger; default: pino at level `JOBBUS_LOG_LEVEL` or `warn`. */
  readonly logger?: Logger;
}

/** Counters of settle publishes that failed; a growing value deserves an alert. */
export interface BackendCounters {
  /** Settle publishes (retry or DLQ copies) that failed and were handed back to be tried again. */
  readonly settleFailures: number;
  /** DLQ copies (of jobs and poison messages) the broker refused for good, even with a minimal reason: the bridge's count. */
  readonly deadLetterRefused: number;
  /** Leases renewed (a running job's worker renewing it). */
  readonly leaseRenewals: number;
  /** Leases that expired unsettled: their jobs went back to the bus for redelivery. */
  readonly leasesExpired: number;
}

/**
 * A {@link PrefetchingBackend} built on a jobs runtime (a push subscription per queue, whose
 * deliveries it buffers and leases out), exposing what it holds for tests and stats.
 */
export interface RuntimeBackend extends PrefetchingBackend {
  /** Leases currently held. */
  leasedCount(): number;
  /** Settle publishes that failed so far. */
  counters(): BackendCounters;
  /**
   * Hand out no new job of `queue` (paused for the group, see src/control/): leased jobs finish
   * and settle normally; once none is left the queue's subscription is closed, so its prefetched
   * jobs go back to the bus unchanged (no attempt spent). Idempotent.
   */
  pauseQueue(queue: string): void;
  /** Hand out jobs of `queue` again (the next reserve subscribes it again). Idempotent. */
  resumeQueue(queue: string): void;
  /** Hold every reserve until `ready` settles (the paused queues are read first). */
  gateUntil(ready: Promise<unknown>): void;
  /** The queues paused here. */
  pausedQueues(): string[];
}

