/**
 * Settling a held job by publishing: the retry copy or the dead letter first, the original
 * only after the copy was stored, so a job is never lost between the two. A job enters here in
 * the `settling` state (see held.ts) and leaves it settled, or leased again when its retry copy
 * was refused for good and the caller may dead-letter it instead.
 */
import type { Logger } from 'pino';
import { describeError, isRefusedForGood, PublishRejectedError, TimeoutError } from '../errors.js';
import type { DeadLettering, Job } from '../jobs/types.js';
import { JobSettledElsewhere, RedeliverJob } from '../jobs/outcome.js';
import { settleRetryDelayMs } from '../jobs/settle-retry.js';
import { createPendingSettles, type PendingSettle, type SettleOp } from './pending-settles.js';
import type { Held } from './held.js';

/** What the settler needs of its backend. */
export interface SettlerDeps {
  readonly runtime: DeadLettering;
  /** Longest a settle publish may take before the job is handed back, ms. */
  readonly settleTimeoutMs: number;
  readonly logger: Logger;
  /** Settle the original: resolve (`undefined`) or hand it back to the bus (a signal). */
  readonly finish: (held: Held, outcome: RedeliverJob | JobSettledElsewhere | undefined) => void;
  /** Put a claimed job back on the lease table until at least `untilMs`. */
  readonly restore: (held: Held, untilMs: number) => void;
  readonly isClosed: () => boolean;
}

/** The settle publishes of one backend. */
export interface Settler {
  /**
   * Publish a settle's copy, then settle the original (in state `settling`). While the publish
   * runs the delivery is kept alive, and the publish is bounded by `settleTimeoutMs` (U2). On
   * failure:
   * - a retry copy the broker refuses for good, of a leased job: the lease is restored and a
   *   {@link PublishRejectedError} is thrown, so the caller can dead-letter the job instead;
   *   of a redelivered job whose copy is pending: the job is dead-lettered now;
   * - anything else: the job is handed back with a growing delay, and its next delivery
   *   publishes the copy again instead of running the handler (S1).
   */
  publishThenSettle(held: Held, op: SettleOp, leased: boolean): Promise<void>;
  /** The settle still to publish for a delivered job whose earlier settle failed. */
  pendingFor(job: Job): PendingSettle | undefined;
  /** Jobs whose settle publish is in flight (kept alive like leases). */
  readonly inFlight: ReadonlySet<Held>;
  /** Settle publishes that failed so far. */
  failures(): number;
}

/** `promise`, or a retryable TimeoutError after `ms` (the promise itself runs on). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Create the settler of one backend. */
export function createSettler(deps: SettlerDeps): Settler {
  const { runtime, settleTimeoutMs, logger, finish } = deps;
  const inFlight = new Set<Held>();
  const pending = createPendingSettles();
  let failures = 0;

  function publishOf(held: Held, op: SettleOp): Promise<void> {
    return op.kind === 'copy' ? runtime.publishCopy(op.copy) : runtime.deadLetter(held.job, op.reason);
  }

  /** The settle failed: remember it, count it, and hand the job back to be tried again later. */
  function handBack(held: Held, op: SettleOp, err: unknown): void {
    const tries = pending.failed(held.job, op);
    failures++;
    const refused = op.kind === 'dead-letter' && isRefusedForGood(err);
    const delayMs = settleRetryDelayMs(tries);
    logger.error(
      { queue: held.queue, jobId: held.job.id, attempt: held.job.attempt, failures: tries, retryInMs: delayMs, err },
      refused
        ? 'the DLQ refused the job even with a minimal reason; it stays in its queue and the dead-letter publish is tried again later (the handler does not run again)'
        : `publishing the ${op.kind === 'copy' ? 'retry' : 'dead-letter'} copy failed; the job is handed back and the publish is tried again later (the handler does not run again)`,
    );
    finish(held, new RedeliverJob(delayMs, `settle publish failed: ${describeError(err)}`));
  }

  async function publishThenSettle(held: Held, op: SettleOp, leased: boolean): Promise<void> {
    inFlight.add(held);
    let failure: unknown;
    try {
      await withTimeout(publishOf(held, op), settleTimeoutMs, `settle publish of job ${held.job.id}`);
    } catch (err) {
      failure = err ?? new Error('settle publish failed');
    } finally {
      inFlight.delete(held);
    }
    if (failure === undefined) {
      pending.delete(held.job);
      finish(held, op.kind === 'dead-letter' ? new JobSettledElsewhere('moved to the DLQ') : undefined);
      return;
    }
    if (op.kind === 'copy' && isRefusedForGood(failure)) {
      const why = `the retry copy of job ${held.job.id} was refused for good: ${describeError(failure)}`;
      if (leased && !deps.isClosed()) {
        deps.restore(held, Date.now() + settleTimeoutMs);
        throw new PublishRejectedError(held.queue, `${why}; the lease is still held`, { cause: failure });
      }
      pending.delete(held.job);
      return publishThenSettle(held, { kind: 'dead-letter', reason: why }, false);
    }
    handBack(held, op, failure);
    throw failure;
  }

  return {
    publishThenSettle,
    pendingFor: (job) => (pending.size > 0 ? pending.get(job) : undefined),
    inFlight,
    failures: () => failures,
  };
}
