/**
 * The one place for "retry or dead-letter": what a finished attempt calls for ({@link decide})
 * and carrying it out on the backend ({@link settleAttempt}): ack, a retry copy with backoff, a
 * reschedule that spends no attempt, the DLQ, or a release. A settle runs only after the
 * handler returned, so a retry never overlaps the attempt it retries.
 */
import type { Logger } from 'pino';
import {
  ClosedError,
  describeError,
  JobbusError,
  LeaseExpiredError,
  PublishRejectedError,
  RetryLaterError,
  SchemaError,
} from '../errors.js';
import type { RetryConfig } from '../jobs/config.js';
import type { BackoffPolicy, RegistrableJob } from '../jobs/define.js';
import type { Backend, Job, Lease } from '../jobs/types.js';
import { backoffDelay } from './backoff.js';
import type { HookEmitter } from './hooks.js';
import type { JobOutcome } from './types.js';

/** The settle a finished attempt calls for. */
export type Decision =
  | { kind: 'ack' }
  | { kind: 'retry'; delayMs: number; reason: string; error: unknown }
  | { kind: 'rescheduled'; delayMs: number; reason: string }
  | { kind: 'dead'; reason: string; error: unknown }
  | { kind: 'release'; reason: string };

/** The decision of a handler that returned. */
export const ACK: Decision = { kind: 'ack' };

/** What {@link decide} reads beside the job and the error. */
export interface DecideSettings {
  readonly retry: RetryConfig;
  readonly backoff: BackoffPolicy | undefined;
  readonly random: () => number;
}

/** Attempts a job may take: its own, else its definition's, else the worker's. */
export function maxAttemptsOf(job: Job, def: RegistrableJob | undefined, retry: RetryConfig): number {
  return job.maxAttempts > 0 ? job.maxAttempts : def?.maxAttempts ?? retry.maxAttempts;
}

/** The decision for an attempt of `job` that failed with `err` (see the README's handler table). */
export function decide(job: Job, err: unknown, def: RegistrableJob | undefined, s: DecideSettings): Decision {
  const reason = describeError(err);
  if (err instanceof SchemaError) return { kind: 'dead', reason: `schema: ${err.message}`, error: err };
  if (err instanceof RetryLaterError) return { kind: 'rescheduled', delayMs: err.delayMs, reason };
  // D4: the runtime is closing under the handler (e.g. a follow-up enqueue failed): not the job's fault.
  if (err instanceof ClosedError) return { kind: 'release', reason };
  if (err instanceof JobbusError && !err.retryable) return { kind: 'dead', reason, error: err };
  const max = maxAttemptsOf(job, def, s.retry);
  if (job.attempt + 1 >= max) return { kind: 'dead', reason: `attempts exhausted (${job.attempt + 1}/${max}): ${reason}`, error: err };
  const policy = def?.backoff ?? s.backoff;
  return { kind: 'retry', delayMs: backoffDelay(policy, job.attempt, err, s.retry, s.random), reason, error: err };
}

/** What {@link settleAttempt} needs of its worker. */
export interface SettleDeps {
  readonly backend: Backend;
  /** False: a job that would be dead-lettered is dropped (acknowledged and logged). */
  readonly dlqEnabled: boolean;
  readonly emit: HookEmitter;
  /** The base logger (its level decides whether debug lines are built at all). */
  readonly logger: Logger;
}

/**
 * Carry out `decision` for the attempt of `lease` and report it through the hooks. A settle
 * that fails (a lost lease, a broker error) leaves the job to be redelivered: reported through
 * `onError`, returned as `released`.
 */
export async function settleAttempt(deps: SettleDeps, lease: Lease, decision: Decision, startedAt: number, log: () => Logger): Promise<JobOutcome> {
  try {
    return await carryOut(deps, lease, decision, startedAt, log);
  } catch (err) {
    return settleFailed(deps, lease.job, err, log);
  }
}

/** A settle failed (a lost lease, a broker error): report it; the job is redelivered. */
export async function settleFailed(deps: SettleDeps, job: Job, err: unknown, log: () => Logger): Promise<JobOutcome> {
  if (err instanceof LeaseExpiredError) log().warn('lease expired before the job was settled; it will be redelivered');
  else log().error({ err }, 'settling the job failed; it will be redelivered');
  await deps.emit('onError', err, job);
  return { kind: 'released', job };
}

/**
 * Report a job acknowledged through the `onCompleted` hooks (a promise only when a hook returned
 * one). The worker's common path acks and calls this itself, without {@link settleAttempt}'s
 * promises.
 */
export function completed(deps: SettleDeps, job: Job, startedAt: number): Promise<void> | undefined {
  return deps.emit('onCompleted', job, { durationMs: Date.now() - startedAt });
}

/** Carry out `decision` (see {@link settleAttempt}, which reports its failure). */
async function carryOut(deps: SettleDeps, lease: Lease, decision: Decision, startedAt: number, log: () => Logger): Promise<JobOutcome> {
  const { backend, emit, logger } = deps;
  const job = lease.job;
  switch (decision.kind) {
    case 'ack': {
      await backend.ack(lease);
      if (logger.isLevelEnabled('debug')) log().debug('job completed');
      const hooked = completed(deps, job, startedAt);
      if (hooked) await hooked;
      return { kind: 'completed', job };
    }
    case 'retry': {
      const refused = await nackOrRefused(backend, lease, decision.delayMs, decision.reason, true, log);
      if (refused) return settleDead(deps, lease, `${refused.message}; the attempt failed with: ${decision.reason}`, decision.error, log);
      log().info({ delayMs: decision.delayMs, reason: decision.reason }, 'job will be retried');
      await emit('onRetry', job, { error: decision.error, delayMs: decision.delayMs });
      return { kind: 'retry', job, delayMs: decision.delayMs, reason: decision.reason };
    }
    case 'rescheduled': {
      const refused = await nackOrRefused(backend, lease, decision.delayMs, decision.reason, false, log);
      if (refused) return settleDead(deps, lease, `${refused.message}; the job was put off: ${decision.reason}`, undefined, log);
      if (logger.isLevelEnabled('debug')) log().debug({ delayMs: decision.delayMs, reason: decision.reason }, 'job rescheduled');
      await emit('onRescheduled', job, { delayMs: decision.delayMs, reason: decision.reason });
      return { kind: 'rescheduled', job, delayMs: decision.delayMs, reason: decision.reason };
    }
    case 'dead':
      return settleDead(deps, lease, decision.reason, decision.error, log);
    case 'release':
      await backend.release(lease);
      log().info({ reason: decision.reason }, 'job released for redelivery: the runtime is closing');
      return { kind: 'released', job };
  }
}

/**
 * nack; undefined when the copy was published. A copy the broker refuses for good (too
 * large, a runAt past year 9999) leaves the lease held and is returned, for the caller to
 * dead-letter the job (S1).
 */
async function nackOrRefused(
  backend: Backend,
  lease: Lease,
  delayMs: number,
  reason: string,
  countAttempt: boolean,
  log: () => Logger,
): Promise<PublishRejectedError | undefined> {
  try {
    const runAt = new Date(Date.now() + delayMs);
    await backend.nack(lease, runAt, reason, countAttempt ? {} : { countAttempt: false });
    return undefined;
  } catch (err) {
    if (!(err instanceof PublishRejectedError)) throw err;
    log().error({ err, reason }, 'the copy of the job was refused for good; moving the job to the DLQ instead');
    return err;
  }
}

async function settleDead(deps: SettleDeps, lease: Lease, reason: string, error: unknown, log: () => Logger): Promise<JobOutcome> {
  const job = lease.job;
  if (deps.dlqEnabled) {
    await deps.backend.moveToDLQ(lease, reason);
    log().warn({ reason }, 'job moved to the DLQ');
  } else {
    await deps.backend.ack(lease);
    log().error({ reason }, 'job dropped (DLQ disabled)');
  }
  await deps.emit('onDead', job, { error, reason });
  return { kind: 'dead', job, reason };
}
