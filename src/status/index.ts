/**
 * The optional job-status store (README, "Job status"): pass one to `createJobbus({ status })`,
 * then read `jobs.status(jobId)` and `jobs.statusSnapshot()`. Memory for one process; Redis
 * and NATS KV (on your client or connection) for many. Off by default, and no cost when off.
 */
export { createMemoryStatusStore, type MemoryStatusStoreOptions } from './memory.js';
export { createRedisStatusStore, type RedisStatusClient, type RedisStatusStoreOptions, type RedisStatusSettings } from './redis.js';
export { createNatsKvStatusStore, type NatsKvStatusStoreOptions } from './nats-kv.js';
export { JOB_STATES, type JobState, type JobStatus, type JobStatusStore, type StateCounts, type StatusSnapshot, type StatusWriteCounts } from './types.js';
