/**
 * `jobbus/scheduler`: cron tasks that enqueue a job once per tick across any number of
 * instances. {@link createScheduler} runs them on a `createJobbus` instance (or anything with
 * its plain enqueue), guarded by a {@link LockProvider}: {@link createMemoryLockProvider} for
 * one process; Redis, PostgreSQL or NATS KV for several.
 */
export { createScheduler } from './scheduler.js';
export { parseSchedule, type Schedule } from './schedule.js';
export { createMemoryLockProvider, type MemoryLockProviderOptions } from './locks/memory.js';
export { createRedisLockProvider, type RedisLockClient, type RedisLockTarget, type RedisLockProviderOptions } from './locks/redis.js';
export { createPostgresLockProvider, type PostgresLockPool, type PostgresLockTarget, type PostgresLockProviderOptions } from './locks/postgres.js';
export { createNatsKvLockProvider, type NatsKvLockTarget, type NatsKvLockProviderOptions } from './locks/nats-kv.js';
export type {
  Task,
  TaskBase,
  PlainTask,
  TypedTask,
  TaskInfo,
  MisfirePolicy,
  LockHandle,
  LockProvider,
  TriggerResult,
  Scheduler,
  SchedulerCounters,
  SchedulerOptions,
  SchedulerTarget,
} from './types.js';
