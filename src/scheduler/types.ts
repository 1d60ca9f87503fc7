/**
 * The scheduler contract: cron tasks that enqueue a job once per tick across any number of
 * instances, guarded by one lock per (task, tick) in a {@link LockProvider}.
 */
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { JobDefinition } from '../jobs/define.js';
import type { Job } from '../jobs/types.js';
import type { JobInput } from '../jobs/job.js';

/** What happens to ticks missed while no instance ran (or the process was paused). */
export type MisfirePolicy = 'skip' | 'fire_once';

/** Fields every task has, whatever job it enqueues. */
export interface TaskBase {
  /** Unique task name (letters, digits, `._:-`); part of the lock key and of the derived job id. */
  readonly name: string;
  /** Cron expression (5 fields, or 6 with seconds first), a macro (`@hourly`, `@daily`, …) or `@every <duration>` (`@every 90s`, `@every 5m`, `@every 1h30m`). */
  readonly schedule: string;
  /** IANA time zone the cron fields are read in. Default `UTC`. Ignored by `@every` (a fixed grid from the Unix epoch). */
  readonly timezone?: string;
  /** How long a tick's lock is held at least, ms; default the scheduler's `defaultLockTtlMs` (30 000). */
  readonly lockTtlMs?: number;
  /**
   * `skip` (default): a tick missed by more than the grace window is dropped (logged, counted).
   * `fire_once`: the ticks missed while no instance ran collapse into one catch-up run.
   */
  readonly misfirePolicy?: MisfirePolicy;
  /** Tenant of the enqueued jobs. */
  readonly tenantId?: string;
  /** Headers of every enqueued job. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Idempotency key of the enqueued jobs; default derived from (task, tick): `<name>@<tick ISO>`. */
  readonly idempotencyKey?: string;
}

/** A task enqueuing a plain job. */
export interface PlainTask extends TaskBase {
  /** Queue the job is enqueued on. */
  readonly queue: string;
  /** Job name of the enqueued job. */
  readonly jobName: string;
  /** Payload of every enqueued job (bytes, text or JSON). Default `{}`. */
  readonly payload?: JobInput['payload'];
}

/** A task enqueuing a typed job of a {@link defineJob} definition (queue and job name come from it). */
export interface TypedTask<S extends z.ZodType = z.ZodType> extends TaskBase {
  readonly job: JobDefinition<S>;
  /** Validated by the definition's schema when the task is registered. */
  readonly payload: z.input<S>;
}

/** A recurring task. */
export type Task = PlainTask | TypedTask;

/** A held lock. */
export interface LockHandle {
  /** The lock key. */
  readonly key: string;
  /** Token proving ownership; renew and release check it. */
  readonly token: string;
  /** When the lock lapses unless renewed. */
  readonly expiresAt: Date;
}

/**
 * Distributed locks for the scheduler, and the last fired tick of each task, kept where the
 * locks live so catch-up works after every instance was down. Implementations: memory,
 * Redis, PostgreSQL, NATS KV.
 */
export interface LockProvider {
  /** Take `key` for `ttlMs`, or `undefined` when someone else holds it (an expired lock is free). */
  acquire(key: string, ttlMs: number): Promise<LockHandle | undefined>;
  /** Extend a held lock to `ttlMs` from now; throws a `ConflictError` when it was lost (expired and taken, or released). */
  renew(lock: LockHandle, ttlMs: number): Promise<LockHandle>;
  /** Give a lock up, only if still ours (a lost lock is left alone). */
  release(lock: LockHandle): Promise<void>;
  /** The last tick recorded for `task`, if any. */
  lastFired(task: string): Promise<Date | undefined>;
  /** Record `tick` as fired for `task`; never moves the record backwards (concurrent writers keep the latest). */
  recordFired(task: string, tick: Date): Promise<void>;
  /** Throws a typed error when the store cannot be used. */
  healthCheck(): Promise<void>;
  /** Release resources (a client passed in by the user is not closed). */
  close(): Promise<void>;
}

/** Result of {@link Scheduler.trigger}. */
export type TriggerResult =
  | { readonly fired: true; readonly jobId: string }
  | { readonly fired: false; readonly reason: 'unknown_task' | 'lock_held' | 'enqueue_failed'; readonly error?: unknown };

/** One task as {@link Scheduler.list} shows it. */
export interface TaskInfo {
  readonly name: string;
  readonly schedule: string;
  readonly timezone: string;
  readonly queue: string;
  readonly jobName: string;
  readonly misfirePolicy: MisfirePolicy;
  /** Next tick this instance will try to fire (undefined when stopped). */
  readonly nextFireAt: Date | undefined;
  /** Last tick fired by any instance, as recorded in the lock store. */
  readonly lastFiredAt: Date | undefined;
}

/** Counters of what the scheduler did; given-up ticks deserve an alert. */
export interface SchedulerCounters {
  /** Ticks this instance fired (enqueued); manual triggers are not ticks and not counted. */
  readonly fired: number;
  /** Ticks another instance took: its lock was held, or the store recorded the tick as fired. */
  readonly lockedElsewhere: number;
  /** Ticks missed by more than the grace window and skipped (`skip` policy). */
  readonly skipped: number;
  /** Missed ticks collapsed into catch-up runs besides the one fired (`fire_once`); counted up to 1,000 per run for cron. */
  readonly collapsed: number;
  /** Ticks whose enqueue kept failing until the tick's window closed (or failed for good, or the scheduler stopped). */
  readonly givenUp: number;
}

/** Where the scheduler enqueues: a `createJobbus` instance, or anything with its plain enqueue. */
export interface SchedulerTarget {
  enqueue(job: JobInput): Promise<Job>;
}

/** Options of `createScheduler`. */
export interface SchedulerOptions {
  /** Where jobs go (e.g. `createJobbus(…)`). */
  readonly jobs: SchedulerTarget;
  /** Locks and last-fired records; every instance of an application must share one store. */
  readonly locks: LockProvider;
  /**
   * Longest one enqueue may take before it counts as failed, ms, and the longest a tick's
   * enqueue is retried (or until the next tick, if sooner; at least 1 s). Default 10 000.
   */
  readonly dispatchTimeoutMs?: number;
  /** Lock TTL of tasks without their own, ms (at least 1 000). Default 30 000. */
  readonly defaultLockTtlMs?: number;
  /** A tick found this late is still fired under `skip`, ms. Default 60 000. */
  readonly misfireGraceMs?: number;
  /** Logger; default pino at `JOBBUS_LOG_LEVEL` (default `warn`). */
  readonly logger?: Logger;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: () => number;
  /** Timer, for tests (with `now`). Default `setTimeout`; returns a cancel function. */
  readonly setTimer?: (fn: () => void, ms: number) => () => void;
}

/** The scheduler runtime. */
export interface Scheduler {
  /** Add a task (validated; the error names the bad field); a name already registered is a `ConflictError`. */
  register(task: Task): void;
  /** Replace a registered task (same name); applies from its next tick. */
  update(task: Task): void;
  /** Remove a task; false when unknown. */
  remove(name: string): boolean;
  /** Every task with its next and last fire. */
  list(): Promise<TaskInfo[]>;
  /** Start dispatching ticks (and catch up missed ones under `fire_once`). */
  start(): Promise<void>;
  /** Stop dispatching; waits for dispatches in progress. */
  stop(): Promise<void>;
  /** Dispatch a task now (outside its schedule) and say whether it fired or why not. */
  trigger(name: string): Promise<TriggerResult>;
  /** What happened so far. */
  counters(): SchedulerCounters;
}
