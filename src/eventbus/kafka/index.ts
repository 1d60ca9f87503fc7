/**
 * `jobbus/kafka`: the {@link EventBus} on Apache Kafka.
 *
 * Topics (created on first use unless `autoCreateTopics: false`):
 * - `<topic>`: the queue itself; messages keyed by the job's partition key (murmur2, as Java).
 * - `<topic>.delay.<tier>`: one per delay tier (default `1s`, `10s`, `1m`, `10m`, `1h`); created
 *   when `<topic>` is subscribed or a delayed publish needs one.
 * - `<topic>.dlq`: written by the layer above through an ordinary publish.
 *
 * Consumer groups:
 * - a subscription of group `g` to topic `t` is one member of group `${g}.${t}` (option
 *   `groupId`): every queue has its own group, so assignments never mix topics;
 * - the relay of a delay topic `d` is a member of group `jobbus.relay.${d}` (option
 *   `relayGroupId`). Relays start lazily, with the first subscription to their target topic in
 *   this process (the worker side), and stop with the last one. Publishers never run relays.
 *   They cover every `<topic>.delay.<tier>` topic that exists, whatever ladder created it
 *   (relays.ts).
 *
 * Delivery: at-least-once; per-partition contiguous-prefix commits; concurrent dispatch within
 * a partition by key (see subscription.ts); delays persisted in the tier topics (see tiers.ts,
 * relay.ts). A message published with `deliverAt` is never delivered before it.
 */

export { createKafkaEventBus, type KafkaEventBus } from './bus.js';
export type { KafkaEventBusOptions, KafkaDriverName, KafkaBusLogger, KafkaConsumerOptions, KafkaTopicOptions, KafkaTlsOptions, KafkaSaslOptions } from './options.js';
export type * from './port.js';
export { DEFAULT_DELAY_TIERS_MS, type DelayTier } from './tiers.js';
export { DUE_AT_HEADER, TARGET_HEADER } from './wire.js';
export { RELAY_ERROR_HEADER, type RelayCounters } from './relay.js';
