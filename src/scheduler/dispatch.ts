/**
 * Dispatching one tick (or one manual trigger): take its lock, make sure no instance fired it
 * already, enqueue with retries inside the tick's window, record it as fired. The lock is never
 * released: it lapses on its own, past the tick, so an instance arriving late finds it held
 * (and, after it lapsed, finds the tick recorded as fired).
 *
 * States of one dispatch: locking -> (held elsewhere: done) -> checking last fired ->
 * (fired already: done) -> enqueuing (retried with backoff until the deadline) -> recording ->
 * done. While the lock is held a renewal runs every third of its TTL.
 */
import type { Logger } from 'pino';
import { ConflictError, describeError, isRefusedForGood } from '../errors.js';
import type { Job } from '../jobs/types.js';
import type { JobInput } from '../jobs/job.js';
import type { Clock } from './clock.js';
import type { LockHandle, LockProvider, SchedulerTarget } from './types.js';

/** What a dispatch needs from the engine. */
export interface DispatchDeps {
  readonly jobs: SchedulerTarget;
  readonly locks: LockProvider;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Longest one enqueue (or store call) may take, ms. */
  readonly dispatchTimeoutMs: number;
  /** Aborted when the scheduler stops: no more retries after the attempt in progress. */
  readonly stopping: AbortSignal;
}

/** One dispatch to make. */
export interface DispatchRequest {
  readonly task: string;
  readonly key: string;
  readonly lockTtlMs: number;
  readonly job: JobInput;
  /** The tick, for the last-fired check and record; undefined for a manual trigger (neither). */
  readonly tick: Date | undefined;
  /** No attempt starts after this instant (ms). */
  readonly deadline: number;
}

/** How a dispatch ended. */
export type DispatchOutcome =
  | { readonly kind: 'fired'; readonly jobId: string }
  | { readonly kind: 'locked' }
  | { readonly kind: 'fired_already'; readonly lastFired: Date }
  | { readonly kind: 'given_up'; readonly error: unknown };

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;

/** Run `op` until it succeeds, the deadline passes, the scheduler stops, or it fails for good. */
async function retrying<T>(deps: DispatchDeps, req: DispatchRequest, what: string, op: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const left = req.deadline - deps.clock.now();
    try {
      return await deps.clock.timeout(op(), Math.max(1, Math.min(deps.dispatchTimeoutMs, left)), `${what} of "${req.key}"`);
    } catch (err) {
      const wait = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** attempt);
      const last = isRefusedForGood(err) || deps.stopping.aborted || deps.clock.now() + wait >= req.deadline;
      deps.logger.warn({ key: req.key, attempt, err: describeError(err), retry: !last }, `scheduler: ${what} failed`);
      if (last) throw err;
      await deps.clock.sleep(wait, deps.stopping);
      if (deps.stopping.aborted) throw err;
    }
  }
}

/** Renew `lock` every third of its TTL until the returned function is called. */
function keepRenewed(deps: DispatchDeps, lock: LockHandle, ttlMs: number): () => void {
  let current = lock;
  let cancel = (): void => {};
  let stopped = false;
  const schedule = (): void => {
    cancel = deps.clock.after(() => {
      deps.locks.renew(current, ttlMs).then(
        (renewed) => {
          current = renewed;
          if (!stopped) schedule();
        },
        (err: unknown) => {
          // Lost (expired and taken) or the store is down: another instance may fire this tick;
          // the job id makes that a duplicate of the same job. Keep trying while we dispatch.
          deps.logger.warn({ key: lock.key, err: describeError(err) }, 'scheduler: could not renew a tick lock');
          if (!stopped) schedule();
        },
      );
    }, Math.max(1, Math.floor(ttlMs / 3)));
  };
  schedule();
  return () => {
    stopped = true;
    cancel();
  };
}

/**
 * The lock is held, but an earlier acquire of ours failed (a timeout, a dropped connection):
 * that attempt may have taken it. Fired already is fine; otherwise nobody may fire this tick,
 * so it counts as given up rather than silently lost.
 */
async function heldAfterFailure(deps: DispatchDeps, req: DispatchRequest): Promise<DispatchOutcome> {
  const tick = req.tick;
  const last = tick ? await deps.locks.lastFired(req.task).catch(() => undefined) : undefined;
  if (tick && last && last.getTime() >= tick.getTime()) return { kind: 'fired_already', lastFired: last };
  const error = new ConflictError(`lock "${req.key}" is held after a failed acquire of ours, which may have taken it; not firing twice`);
  return { kind: 'given_up', error };
}

/** Dispatch one tick or trigger; never throws (failures come back as `given_up`). */
export async function dispatch(deps: DispatchDeps, req: DispatchRequest): Promise<DispatchOutcome> {
  let lock: LockHandle | undefined;
  let attempts = 0;
  try {
    lock = await retrying(deps, req, 'lock acquire', () => {
      attempts++;
      return deps.locks.acquire(req.key, req.lockTtlMs);
    });
  } catch (error) {
    return { kind: 'given_up', error };
  }
  if (!lock) return attempts === 1 ? { kind: 'locked' } : heldAfterFailure(deps, req);
  const stopRenewing = keepRenewed(deps, lock, req.lockTtlMs);
  try {
    const tick = req.tick;
    if (tick) {
      const last = await retrying(deps, req, 'last-fired read', () => deps.locks.lastFired(req.task));
      if (last && last.getTime() >= tick.getTime()) return { kind: 'fired_already', lastFired: last };
    }
    const job: Job = await retrying(deps, req, 'enqueue', () => deps.jobs.enqueue(req.job));
    if (tick) {
      // The job is out: the record gets a window of its own. A failed record only weakens the
      // guard against a late duplicate, which carries the same job id.
      const recording = { ...req, deadline: Math.max(req.deadline, deps.clock.now() + deps.dispatchTimeoutMs) };
      await retrying(deps, recording, 'last-fired record', () => deps.locks.recordFired(req.task, tick)).catch(() => undefined);
    }
    return { kind: 'fired', jobId: job.id };
  } catch (error) {
    return { kind: 'given_up', error };
  } finally {
    stopRenewing();
  }
}
