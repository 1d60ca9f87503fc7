/** What a handler's outcome means for its job: ack, retry, reschedule, dead-letter or release. */
import { ClosedError, describeError, JobbusError, RetryLaterError, SchemaError } from '../errors.js';
import type { RetryConfig } from '../jobs/config.js';
import type { BackoffPolicy, RegistrableJob } from '../jobs/define.js';
import type { Job } from '../jobs/types.js';
import { backoffDelay } from './backoff.js';

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
