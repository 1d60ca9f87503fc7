import type { Job } from '../jobs/types.js';

/**
 * How a claimed job is settled by a publish: a retry/reschedule copy, or the DLQ.
 * A settle whose publish failed: the job's handler already ran and decided; only the copy is
 * missing. When the bus redelivers the job, the backend publishes the copy again instead of
 * running the handler again (S1, U2).
 */
export type SettleOp = { readonly kind: 'copy'; readonly copy: Job } | { readonly kind: 'dead-letter'; readonly reason: string };

/** A {@link SettleOp} waiting to be tried again, with how often it failed. */
export type PendingSettle = SettleOp & { failures: number };

/** Settles waiting for their publish to be tried again, by delivered message. */
export interface PendingSettles {
  get(job: Job): PendingSettle | undefined;
  /** Remember (or count another failure of) the settle of `job`. Returns its failures so far. */
  failed(job: Job, settle: SettleOp): number;
  delete(job: Job): void;
  readonly size: number;
}

/**
 * What identifies one delivered message of a job: the same job id is shared by its retry
 * copies, which differ in attempt or runAt.
 */
function identityOf(job: Job): string {
  return `${job.queue}\u0000${job.id}\u0000${job.attempt}\u0000${job.runAt.getTime()}`;
}

/**
 * An insertion-ordered map bounded to `limit` entries: when full, the oldest is forgotten
 * (that job's handler then runs again on its next delivery: a duplicate, never a loss).
 */
export function createPendingSettles(limit = 10_000): PendingSettles {
  const map = new Map<string, PendingSettle>();
  return {
    get: (job) => map.get(identityOf(job)),
    failed(job, settle) {
      const id = identityOf(job);
      const known = map.get(id);
      if (known) {
        known.failures++;
        return known.failures;
      }
      if (map.size >= limit) map.delete(map.keys().next().value!);
      map.set(id, { ...settle, failures: 1 });
      return 1;
    },
    delete: (job) => void map.delete(identityOf(job)),
    get size() {
      return map.size;
    },
  };
}
