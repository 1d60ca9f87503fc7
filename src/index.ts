/**
 * jobbus: background jobs on the event bus you already run.
 *
 * The data path: {@link createJob} -> {@link encodeJob} (wire codec) -> an {@link EventBus}
 * (memory from `jobbus/memory`, Kafka from `jobbus/kafka`, NATS from `jobbus/nats`) ->
 * {@link createEventBusBridge} (the jobs Runtime) -> {@link createRuntimeBackend} (leases)
 * -> {@link createWorker} (concurrency, retries, timeouts).
 */
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
export type {
  Job,
  Headers,
  Lease,
  Runtime,
  RuntimeHandler,
  RuntimeSubscribeOptions,
  DeliveryContext,
  Backend,
  ReserveOptions,
  NackOptions,
  DeadLetter,
  DLQStore,
} from './jobs/types.js';
export { createJob, validateJob, type JobInput, type JsonValue } from './jobs/job.js';
export {
  defineJob,
  definitions,
  forgetDefinition,
  type JobDefinition,
  type JobDefinitionInput,
  type JobContext,
  type TypedJobHandler,
  type RegistrableJob,
  type BackoffPolicy,
  type RateLimit,
} from './jobs/define.js';
export { createJobClient, type JobClient, type EnqueueOptions } from './jobs/client.js';
export { newJobId } from './jobs/id.js';
export {
  DEFAULTS,
  parseWorkerConfig,
  type WorkerConfig,
  type WorkerConfigInput,
  type RetryConfig,
  type DLQConfig,
  type QueueSpec,
  type JobLimit,
} from './jobs/config.js';
export { H as HEADERS, encodeJob, decodeJob, messageKeyOf, deadLetterMessage } from './headers/index.js';
export {
  RedeliverAfter,
  DeliveryTerminated,
  isBrowsable,
  type EventBus,
  type BrowsableBus,
  type BrowsedMessage,
  type Message,
  type Delivery,
  type DeliveryHandler,
  type SubscribeOptions,
  type PublishOptions,
  type Subscription,
  type Ordering,
} from './eventbus/types.js';
export { createEventBusBridge, type BridgeCounters, type EventBusBridge, type EventBusBridgeOptions } from './bridge/index.js';
export { createRuntimeBackend, type BackendCounters, type RuntimeBackend, type RuntimeBackendOptions } from './runtime-backend/index.js';
export {
  createWorker,
  currentJob,
  exponentialBackoff,
  backoffDelay,
  type Worker,
  type WorkerOptions,
  type WorkerHooks,
  type JobHandler,
  type JobOutcome,
  type Middleware,
} from './worker/index.js';
export {
  createHealthChecker,
  runtimeHealthChecker,
  backendHealthChecker,
  type HealthChecker,
  type HealthResult,
  type HealthCheckable,
  type HealthCheckerOptions,
} from './health.js';
export { createBusDLQStore } from './bridge/dlq-store.js';
