/**
 * jobbus: background jobs (retries, delays, dead-letter queues) on the Kafka or NATS
 * JetStream you already run, or in memory.
 *
 * Start with {@link createJobbus}: it assembles everything on a bus (`jobbus/memory` by
 * default, `jobbus/kafka`, `jobbus/nats`) and returns enqueue, workers, the DLQ store and
 * health. Typed jobs come from {@link defineJob}. The layers it assembles, and the wire codec,
 * are in `jobbus/advanced`; test helpers in `jobbus/testing`.
 */
export {
  createJobbus,
  type Jobbus,
  type JobbusOptions,
  type JobbusWorkerConfig,
  type JobbusHealth,
  type TypedEnqueueOptions,
  type BulkItem,
} from './jobbus.js';
export type { QueueStats } from './queue-stats.js';
export type { PausedQueue } from './control/types.js';
export { payloadOf } from './jobs/payload.js';
export { suffixQueueNames, prefixQueueNames, type QueueNames } from './jobs/queue-names.js';
export { createJob, validateJob, type JobInput, type JsonValue } from './jobs/job.js';
export {
  defineJob,
  type JobDefinition,
  type JobDefinitionInput,
  type JobContext,
  type TypedJobHandler,
  type RegistrableJob,
  type BackoffPolicy,
  type RateLimit,
} from './jobs/define.js';
export type { RegistryJobDefinitionInput } from './jobs/define.js';
export { REGISTRY_CONTENT_TYPES, type JobRegistrySchema, type RegistryMode } from './jobs/schema/types.js';
export type { RegistryWarningCounts } from './jobs/schema/codec.js';
export {
  createSchemaRegistry,
  type SchemaRegistry,
  type SchemaRegistryOptions,
  type CompatibilityLevel,
  type RegisteredSchema,
  type RegistryAuth,
  type RegistryTlsOptions,
  type RegistrySchemaSource,
  type RegistrySchemaType,
  type RegistrySchemaReference,
  type RegistryEncodeOptions,
  type RegistryDecodeOptions,
  type RegistryDecoded,
} from './eventbus/schema/index.js';
export type { EnqueueOptions } from './jobs/client.js';
export type { Job, JobFailure, DeadLetter, DLQStore } from './jobs/types.js';
export type {
  DLQFilter,
  DLQListOptions,
  DLQEntry,
  DLQPage,
  DLQProgress,
  DLQReplayOptions,
  DLQReplayReport,
  DLQPurgeReport,
} from './jobs/types.js';
export { REPLAY_OF_HEADER } from './bridge/dlq-entry.js';
export type { WorkerConfigInput } from './jobs/config.js';
export type { EventBus } from './eventbus/types.js';
export {
  currentJob,
  type Worker,
  type WorkerOptions,
  type WorkerHooks,
  type JobHandler,
  type JobOutcome,
  type Middleware,
} from './worker/index.js';
export type { HealthResult } from './health.js';
export type { MetricsOptions, MetricsRegistry, TracingOptions, TracerLike } from './observability/types.js';
export { registerSchedulerMetrics } from './observability/scheduler-metrics.js';
export {
  createMemoryStatusStore,
  createRedisStatusStore,
  createNatsKvStatusStore,
  JOB_STATES,
  type MemoryStatusStoreOptions,
  type RedisStatusClient,
  type RedisStatusStoreOptions,
  type RedisStatusSettings,
  type NatsKvStatusStoreOptions,
  type JobState,
  type JobStatus,
  type JobStatusStore,
  type StateCounts,
  type StatusSnapshot,
  type StatusWriteCounts,
} from './status/index.js';
export {
  JobbusError,
  ValidationError,
  DecodeError,
  SchemaError,
  ConflictError,
  NotFoundError,
  LeaseExpiredError,
  RetryableError,
  UnavailableError,
  TimeoutError,
  InvalidArgumentError,
  NotInitializedError,
  ClosedError,
  PermanentError,
  RetryLaterError,
  NoHandlerError,
  PublishRejectedError,
  AuthenticationError,
  isJobbusError,
  describeError,
  type ErrorCode,
  type JobbusErrorOptions,
} from './errors.js';
