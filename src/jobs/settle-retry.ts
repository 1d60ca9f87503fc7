/** First wait before a failed settle publish (retry copy, DLQ copy) is tried again, ms. */
export const SETTLE_RETRY_FIRST_MS = 1_000;

/** Longest wait between tries of a failed settle publish, ms. */
export const SETTLE_RETRY_MAX_MS = 5 * 60_000;

/**
 * How long to wait before the `failures`-th retry of a settle publish that failed: doubling
 * from one second to five minutes, ±10 % jitter so many stuck jobs do not retry in lockstep.
 * A settle that can never succeed (a DLQ that refuses writes) thus costs a handful of tries
 * an hour, not one a second (S1).
 */
export function settleRetryDelayMs(failures: number, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(failures));
  const base = Math.min(SETTLE_RETRY_MAX_MS, SETTLE_RETRY_FIRST_MS * 2 ** Math.min(n - 1, 30));
  return Math.round(base * (0.9 + 0.2 * random()));
}
