import type { RetryConfig } from '../jobs/config.js';
import type { BackoffPolicy } from '../jobs/define.js';

/**
 * Exponential backoff before the next attempt: `initialBackoffMs * 2^attempt`, capped at
 * `maxBackoffMs`, then spread by ±`jitter` so that failures of many jobs at once do not
 * retry in lockstep. `attempt` is the zero-based attempt that just failed.
 */
export function exponentialBackoff(
  attempt: number,
  retry: Pick<RetryConfig, 'initialBackoffMs' | 'maxBackoffMs' | 'jitter'>,
  random: () => number = Math.random,
): number {
  const base = Math.min(retry.maxBackoffMs, retry.initialBackoffMs * 2 ** Math.min(attempt, 52));
  return spread(base, retry.jitter, random);
}

function spread(base: number, jitter: number, random: () => number): number {
  return Math.max(0, Math.round(base + base * jitter * (random() * 2 - 1)));
}

/**
 * The delay after a failed attempt under `policy` (a job definition's or the worker's),
 * falling back to exponential backoff from the worker's retry config.
 */
export function backoffDelay(
  policy: BackoffPolicy | undefined,
  attempt: number,
  error: unknown,
  retry: Pick<RetryConfig, 'initialBackoffMs' | 'maxBackoffMs' | 'jitter'>,
  random: () => number = Math.random,
): number {
  if (policy === undefined) return exponentialBackoff(attempt, retry, random);
  if (typeof policy === 'function') {
    const ms = policy(attempt, error);
    return Number.isFinite(ms) && ms >= 0 ? Math.round(ms) : exponentialBackoff(attempt, retry, random);
  }
  if (policy.type === 'fixed') return spread(policy.delayMs, policy.jitter ?? 0, random);
  return exponentialBackoff(
    attempt,
    {
      initialBackoffMs: policy.initialMs ?? retry.initialBackoffMs,
      maxBackoffMs: policy.maxMs ?? retry.maxBackoffMs,
      jitter: policy.jitter ?? retry.jitter,
    },
    random,
  );
}
