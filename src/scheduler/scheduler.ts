/**
 * The scheduler engine: one timer per task, waking at its next tick, deciding (misfire) which
 * due ticks to fire and dispatching each under its own lock.
 *
 * Scheduler states: idle --start()--> running --stop()--> stopping --> stopped --start()-->
 * running. Tasks can be registered, updated and removed in every state; only a running
 * scheduler arms timers.
 *
 * Per task while running: armed (a timer for `nextAt`) --timer--> waking (read last fired,
 * decide, dispatch the ticks in order) --> armed. `cursor` is the latest instant whose ticks
 * this instance has dealt with (fired, found fired, skipped, collapsed or given up); with the
 * store's last fired it bounds what is overdue. A wake in progress finishes when its task is
 * removed or updated (with the definition it started with) and stop() waits for it.
 */
import { ConflictError, describeError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { defaultLogger } from '../jobs/logger.js';
import { createClock } from './clock.js';
import { dispatch, type DispatchDeps, type DispatchOutcome } from './dispatch.js';
import { countTicks, decideMisfire } from './misfire.js';
import { lockKey, prepareTask, type PreparedTask } from './task.js';
import type { Scheduler, SchedulerCounters, SchedulerOptions, Task, TaskInfo, TriggerResult } from './types.js';

/** Longest single timer: a wall clock stepped forward is noticed within this, ms. */
const MAX_TIMER_MS = 60_000;
/** A tick's dispatch window is at least this long, even when the next tick is closer, ms. */
const MIN_WINDOW_MS = 1_000;

interface Entry {
  prepared: PreparedTask;
  cursor: number | undefined;
  nextAt: number | undefined;
  cancel: (() => void) | undefined;
  waking: Promise<void> | undefined;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`createScheduler: ${name} must be a positive number of ms, got ${String(value)}`);
  return v;
}

/**
 * Create a scheduler that enqueues each task's job once per tick into `options.jobs`, however
 * many instances share `options.locks`:
 *
 * ```ts
 * const scheduler = createScheduler({ jobs, locks: createMemoryLockProvider() });
 * scheduler.register({ name: 'nightly-report', schedule: '0 2 * * *', timezone: 'Europe/Rome', queue: 'reports', jobName: 'build-report' });
 * await scheduler.start();
 * ```
 */
export function createScheduler(options: SchedulerOptions): Scheduler {
  const dispatchTimeoutMs = positive(options.dispatchTimeoutMs, 10_000, 'dispatchTimeoutMs');
  const defaultLockTtlMs = positive(options.defaultLockTtlMs, 30_000, 'defaultLockTtlMs');
  const graceMs = options.misfireGraceMs ?? 60_000;
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new InvalidArgumentError(`createScheduler: misfireGraceMs must be >= 0, got ${graceMs}`);
  const clock = createClock(options.now, options.setTimer);
  const logger = (options.logger ?? defaultLogger()).child({ component: 'scheduler' });
  const entries = new Map<string, Entry>();
  const inflight = new Set<Promise<unknown>>();
  const counts = { fired: 0, lockedElsewhere: 0, skipped: 0, collapsed: 0, givenUp: 0 };
  let state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  let stopping = new AbortController();
  const deps = (): DispatchDeps => ({ jobs: options.jobs, locks: options.locks, clock, logger, dispatchTimeoutMs, stopping: stopping.signal });

  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p)).catch(() => undefined);
    return p;
  };

  function arm(entry: Entry): void {
    entry.cancel?.();
    entry.cancel = undefined;
    if (state !== 'running' || entries.get(entry.prepared.name) !== entry || entry.waking) return;
    const now = clock.now();
    const nextAt = entry.prepared.schedule.next(new Date(entry.cursor ?? now)).getTime();
    entry.nextAt = nextAt;
    entry.cancel = clock.after(() => wake(entry), Math.min(MAX_TIMER_MS, Math.max(0, nextAt - now)));
  }

  function wake(entry: Entry): void {
    if (entry.waking || state !== 'running') return;
    if (entry.nextAt !== undefined && clock.now() < entry.nextAt) return arm(entry); // an early (capped) timer
    entry.cancel = undefined;
    entry.waking = track(
      runDue(entry)
        .catch((err: unknown) => logger.error({ task: entry.prepared.name, err: describeError(err) }, 'scheduler: a wake failed'))
        .finally(() => {
          entry.waking = undefined;
          arm(entry);
        }),
    );
  }

  /** Fire what is due for one task now (misfire policy applied), then move its cursor to now. */
  async function runDue(entry: Entry): Promise<void> {
    const task = entry.prepared;
    const now = clock.now();
    let stored: Date | undefined;
    try {
      stored = await clock.timeout(options.locks.lastFired(task.name), dispatchTimeoutMs, 'last-fired read');
    } catch (err) {
      logger.error({ task: task.name, err: describeError(err) }, 'scheduler: cannot read the last fired tick; deciding from this instance only');
    }
    const since = Math.max(stored?.getTime() ?? -Infinity, entry.cursor ?? -Infinity);
    if (stored && entry.cursor !== undefined && stored.getTime() > entry.cursor) {
      // Ticks another instance fired since this one last looked: not ours to try.
      counts.lockedElsewhere += countTicks(task.schedule, entry.cursor, Math.min(stored.getTime(), now) + 1).count;
    }
    const decision = decideMisfire({
      schedule: task.schedule,
      lastFired: new Date(Number.isFinite(since) ? since : now),
      now: new Date(now),
      policy: task.misfirePolicy,
      graceMs,
    });
    counts.skipped += decision.skipped;
    counts.collapsed += decision.collapsed;
    if (decision.skipped > 0) logger.warn({ task: task.name, skipped: decision.skipped, capped: decision.capped }, 'scheduler: skipped ticks later than the grace window');
    if (decision.collapsed > 0) logger.info({ task: task.name, collapsed: decision.collapsed, capped: decision.capped }, 'scheduler: missed ticks collapsed into one catch-up run');
    for (const tick of decision.fire) {
      if (state !== 'running' || entries.get(task.name) !== entry) break;
      await fireTick(task, tick);
    }
    entry.cursor = Math.max(entry.cursor ?? -Infinity, now);
  }

  async function fireTick(task: PreparedTask, tick: Date): Promise<void> {
    const start = clock.now();
    const nextTick = task.schedule.next(new Date(Math.max(start, tick.getTime()))).getTime();
    const window = Math.min(dispatchTimeoutMs, Math.max(MIN_WINDOW_MS, nextTick - start));
    const outcome = await dispatch(deps(), {
      task: task.name,
      key: lockKey(task.name, tick),
      lockTtlMs: task.lockTtlMs,
      job: task.jobFor(tick),
      tick,
      deadline: start + window,
    });
    count(task, tick, outcome);
  }

  function count(task: PreparedTask, tick: Date, outcome: DispatchOutcome): void {
    const at = { task: task.name, tick: tick.toISOString() };
    if (outcome.kind === 'fired') {
      counts.fired++;
      logger.debug({ ...at, jobId: outcome.jobId }, 'scheduler: fired');
    } else if (outcome.kind === 'given_up') {
      counts.givenUp++;
      logger.error({ ...at, err: describeError(outcome.error) }, 'scheduler: gave up on a tick: its job was not enqueued');
    } else {
      counts.lockedElsewhere++;
      logger.debug({ ...at, outcome: outcome.kind }, 'scheduler: tick taken by another instance');
    }
  }

  async function trigger(name: string): Promise<TriggerResult> {
    const task = entries.get(name)?.prepared;
    if (!task) return { fired: false, reason: 'unknown_task' };
    const at = new Date(clock.now());
    const outcome = await track(
      dispatch(deps(), { task: name, key: lockKey(name, at, true), lockTtlMs: task.lockTtlMs, job: task.jobFor(at, true), tick: undefined, deadline: at.getTime() + dispatchTimeoutMs }),
    );
    if (outcome.kind === 'fired') return { fired: true, jobId: outcome.jobId };
    if (outcome.kind === 'given_up') {
      logger.error({ task: name, err: describeError(outcome.error) }, 'scheduler: a manual trigger could not enqueue');
      return { fired: false, reason: 'enqueue_failed', error: outcome.error };
    }
    return { fired: false, reason: 'lock_held' };
  }

  return {
    register(task: Task): void {
      const prepared = prepareTask(task, defaultLockTtlMs);
      if (entries.has(prepared.name)) throw new ConflictError(`a task named "${prepared.name}" is already registered; use update()`);
      const entry: Entry = { prepared, cursor: undefined, nextAt: undefined, cancel: undefined, waking: undefined };
      entries.set(prepared.name, entry);
      if (state === 'running') wake(entry); // catch-up from the store, then armed
    },
    update(task: Task): void {
      const prepared = prepareTask(task, defaultLockTtlMs);
      const entry = entries.get(prepared.name);
      if (!entry) throw new NotFoundError(`no task named "${prepared.name}" to update; use register()`);
      entry.prepared = prepared;
      // From its next tick: nothing of the new schedule before now is overdue.
      entry.cursor = Math.max(entry.cursor ?? -Infinity, clock.now());
      arm(entry);
    },
    remove(name: string): boolean {
      const entry = entries.get(name);
      if (!entry) return false;
      entries.delete(name);
      entry.cancel?.();
      entry.nextAt = undefined;
      return true;
    },
    async list(): Promise<TaskInfo[]> {
      return Promise.all(
        [...entries.values()].map(async ({ prepared: p, nextAt }) => ({
          name: p.name,
          schedule: p.schedule.expression,
          timezone: p.timezone,
          queue: p.queue,
          jobName: p.jobName,
          misfirePolicy: p.misfirePolicy,
          nextFireAt: state === 'running' && nextAt !== undefined ? new Date(nextAt) : undefined,
          lastFiredAt: await options.locks.lastFired(p.name),
        })),
      );
    },
    async start(): Promise<void> {
      if (state === 'running') return;
      if (state === 'stopping') throw new ConflictError('the scheduler is stopping; await stop() before start()');
      state = 'running';
      for (const entry of entries.values()) {
        entry.cursor = undefined; // misfire on start: what is overdue comes from the store
        wake(entry);
      }
    },
    async stop(): Promise<void> {
      if (state !== 'running') return;
      state = 'stopping';
      stopping.abort();
      for (const entry of entries.values()) {
        entry.cancel?.();
        entry.cancel = undefined;
        entry.nextAt = undefined;
      }
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
      stopping = new AbortController(); // triggers after stop() retry again
      state = 'stopped';
    },
    trigger,
    counters: (): SchedulerCounters => ({ ...counts }),
  };
}
