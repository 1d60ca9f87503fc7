/**
 * `jobbus/advanced`: the layers {@link createJobbus} assembles, one by one, and the wire
 * codec, for wiring of your own (several groups over one bus, a custom backend, a third-party
 * bus checked with `runConformance` from `jobbus/testing`). Applications start with
 * `createJobbus` from `jobbus`.
 *
 * The data path: an {@link EventBus} (memory, Kafka, NATS) → {@link createEventBusBridge}
 * (the jobs {@link Runtime}: job ↔ message, dead-lettering) → {@link createRuntimeBackend}
 * (leases over the runtime's pushed deliveries) → {@link createWorker} (concurrency, retries,
 * timeouts). {@link createBusDLQStore} reads and redrives dead-letter queues; the codec
 * ({@link encodeJob}, {@link decodeJob}, {@link HEADERS}) is the wire format other languages
 * produce and consume.
 */
export type {
  Headers,
  Lease,
  Runtime,
  RuntimeHandler,
  RuntimeSubscribeOptions,
  DeliveryContext,
  Backend,
  ReserveOptions,
  NackOptions,
  DeadLettering,
  DeadLetteringCounters,
  PrefetchingBackend,
} from './jobs/types.js';
export { isPrefetching } from './jobs/types.js';
export { RedeliverJob, JobSettledElsewhere } from './jobs/outcome.js';
export { DEFAULT_QUEUE_NAMES } from './jobs/queue-names.js';
export { createJobClient, type JobClient, type JobClientOptions } from './jobs/client.js';
export { createRegistryPayloads, type RegistryPayloads, type RegistryPayloadsOptions } from './jobs/schema/codec.js';
export { frame as frameRegistryPayload, unframe as unframeRegistryPayload } from './eventbus/schema/index.js';
export { newJobId } from './jobs/id.js';
export { forgetDefinition, definitions } from './jobs/define.js';
export {
  DEFAULTS,
  parseWorkerConfig,
  type WorkerConfig,
  type RetryConfig,
  type DLQConfig,
  type QueueSpec,
  type JobLimit,
} from './jobs/config.js';
export { H as HEADERS, encodeJob, decodeJob, messageKeyOf, deadLetterMessage } from './headers/index.js';
export { REPLAYED_AT_HEADER } from './headers/names.js';
export {
  RedeliverAfter,
  DeliveryTerminated,
  isBrowsable,
  hasTopicStats,
  type BrowsableBus,
  type QueueStatsBus,
  type TopicStats,
  type BrowsedMessage,
  type Message,
  type Delivery,
  type DeliveryHandler,
  type SubscribeOptions,
  type PublishOptions,
  type BatchPublishOptions,
  type Subscription,
  type Ordering,
} from './eventbus/types.js';
export { createEventBusBridge, type BridgeCounters, type EventBusBridge, type EventBusBridgeOptions } from './bridge/index.js';
export { createBusDLQStore } from './bridge/dlq-store.js';
export { createRuntimeBackend, type BackendCounters, type RuntimeBackend, type RuntimeBackendOptions } from './runtime-backend/index.js';
export { createWorker, exponentialBackoff, backoffDelay } from './worker/index.js';
export {
  createHealthChecker,
  runtimeHealthChecker,
  backendHealthChecker,
  type HealthChecker,
  type HealthCheckable,
  type HealthCheckerOptions,
} from './health.js';
