/**
 * The scheduler contract (implementation lands with the scheduler issue): cron tasks that
 * enqueue a job once per tick across instances, guarded by a lock per (task, tick).
 */

/** What happens to ticks missed while no instance ran. */
export type MisfirePolicy = 'skip' | 'fire_once';

/** A recurring task. */
export interface Task {
  /** Unique task name; part of the lock key and of the derived job id. */
  readonly name: string;
  /** Cron expression (5 or 6 fields), a macro (`@hourly`) or `@every <duration>`. */
  readonly schedule: string;
  /** Queue the job is enqueued on. */
  readonly queue: string;
  /** Job name of the enqueued job. */
  readonly jobName: string;
  /** Payload of every enqueued job. */
  readonly payload?: Uint8Array | string;
  /** Headers of every enqueued job. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Tenant of the enqueued jobs. */
  readonly tenantId?: string;
  /** Idempotency key; default derived from (task, tick). */
  readonly idempotencyKey?: string;
  /** IANA time zone of the schedule. Default UTC. */
  readonly timezone?: string;
  /** How long a tick's lock is held, ms. */
  readonly lockTtlMs?: number;
  /** Default `skip`. */
  readonly misfirePolicy?: MisfirePolicy;
}

/** A held lock. */
export interface LockHandle {
  /** The lock key. */
  readonly key: string;
  /** Token proving ownership; renew and release check it. */
  readonly token: string;
  /** When the lock lapses unless renewed. */
  readonly expiresAt: Date;
}

/** Distributed locks for the scheduler (memory, Redis, PostgreSQL, NATS KV). */
export interface LockProvider {
  /** Take `key` for `ttlMs`, or `undefined` when someone else holds it. */
  acquire(key: string, ttlMs: number): Promise<LockHandle | undefined>;
  /** Extend a held lock; throws when it was lost. */
  renew(lock: LockHandle, ttlMs: number): Promise<LockHandle>;
  /** Give a lock up (only if still ours). */
  release(lock: LockHandle): Promise<void>;
  /** Throws when the store cannot be used. */
  healthCheck(): Promise<void>;
  /** Release resources. */
  close(): Promise<void>;
}

/** Result of a manual trigger. */
export type TriggerResult = { fired: true; jobId: string } | { fired: false; reason: 'lock_held' | 'unknown_task' };

/** The scheduler runtime. */
export interface Scheduler {
  /** Add a task (validated). */
  register(task: Task): void;
  /** Start dispatching ticks. */
  start(): Promise<void>;
  /** Stop dispatching. */
  stop(): Promise<void>;
  /** Dispatch a task now and say whether it fired. */
  trigger(name: string): Promise<TriggerResult>;
}
