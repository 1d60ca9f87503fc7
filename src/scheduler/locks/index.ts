/**
 * The scheduler's lock providers. Memory is for one process; Redis, PostgreSQL and NATS KV
 * load their client package (an optional peer) only when a provider is created.
 */
export { createMemoryLockProvider, type MemoryLockProviderOptions } from './memory.js';
export { createRedisLockProvider, type RedisLockClient, type RedisLockTarget, type RedisLockProviderOptions } from './redis.js';
export { createPostgresLockProvider, type PostgresLockPool, type PostgresLockTarget, type PostgresLockProviderOptions } from './postgres.js';
export { createNatsKvLockProvider, type NatsKvLockTarget, type NatsKvLockProviderOptions } from './nats-kv.js';
