import type { BatchPublishOptions, Delivery, EventBus, Message, PublishOptions } from '../../src/eventbus/types.js';

/** What a publish looks like to a fault hook. */
export interface PublishCall {
  readonly topic: string;
  readonly message: Message;
  readonly options: PublishOptions | undefined;
}

/** Fault hooks of {@link faultyBus}. */
export interface Faults {
  /** Called before each message is published: throw to fail it, await to delay it. */
  beforePublish?(call: PublishCall): void | Promise<void>;
  /** Rewrites each delivery before the handler sees it (e.g. to add a signal or mark headers). */
  mapDelivery?(delivery: Delivery): Delivery;
}

/**
 * Fault injection by wrapping a real bus (the standards allow a wrapping bus, never a fake
 * broker): publishes pass through `beforePublish`, deliveries through `mapDelivery`.
 */
export function faultyBus<B extends EventBus>(bus: B, faults: Faults): B {
  const wrapped: EventBus = {
    async publish(topic, message, options) {
      await faults.beforePublish?.({ topic, message, options });
      await bus.publish(topic, message, options);
    },
    async publishBatch(topic, messages, options?: BatchPublishOptions) {
      for (const message of messages) await faults.beforePublish?.({ topic, message, options: undefined });
      await bus.publishBatch(topic, messages, options);
    },
    subscribe: (topic, handler, options) =>
      bus.subscribe(topic, (d) => handler(faults.mapDelivery ? faults.mapDelivery(d) : d), options),
    healthCheck: () => bus.healthCheck(),
    close: () => bus.close(),
  };
  return Object.assign(Object.create(bus) as B, wrapped);
}

export { messageBytes as sizeOf } from '../../src/eventbus/message-size.js';
