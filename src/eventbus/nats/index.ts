/**
 * `jobbus/nats`: the NATS JetStream event bus (server 2.9+). Needs the optional peer
 * dependencies `@nats-io/transport-node`, `@nats-io/jetstream`, `@nats-io/kv` and `@nats-io/nats-core`,
 * loaded when {@link createNatsEventBus} is called.
 */
export { createNatsEventBus, type NatsEventBus } from './bus.js';
export type { NatsEventBusOptions, QueueRetention, RetainedLimits } from './options.js';
export { KEY_HEADER, DUE_AT_HEADER } from './wire.js';
