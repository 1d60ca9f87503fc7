/**
 * Subscribing on Kafka: check the arguments, start the delay relays of the topic (a worker side
 * runs them, see relays.ts), then join the group as one member (subscription.ts). A subscription
 * that fails to start releases what it took; one that finishes starting after the bus closed is
 * closed again.
 */
import { ClosedError, ValidationError, type JobbusError } from '../../errors.js';
import { resolveSubscribeOptions, type ResolvedSubscribeOptions } from '../delivery.js';
import type { DeliveryHandler, SubscribeOptions, Subscription } from '../types.js';
import type { KafkaBusLogger, ResolvedConsumerOptions } from './options.js';
import type { KafkaClientPort } from './port.js';
import type { PublishFn } from './publish.js';
import type { RelayManager } from './relays.js';
import { createKafkaSubscription, type KafkaSubscription } from './subscription.js';
import { checkTopic, KAFKA_NAME_RE } from './topics.js';

/** What subscribing needs from the bus. */
export interface SubscriberDeps {
  readonly client: KafkaClientPort;
  readonly consumerOpts: ResolvedConsumerOptions;
  /** The Kafka group id of bus group `group` on `topic`. */
  readonly groupIdOf: (group: string, topic: string) => string;
  readonly relays: RelayManager;
  /** The bus's live subscriptions: added here, removed when one has closed. */
  readonly subscriptions: Set<KafkaSubscription>;
  /** Publish (for redeliveries persisted through the delay topics). */
  readonly publish: PublishFn;
  readonly inMemoryRedeliveryMaxMs: number;
  readonly drainTimeoutMs: number;
  readonly maxOffsetSpan: number | undefined;
  readonly logger: KafkaBusLogger | undefined;
  /** An error out of a broker operation as a JobbusError (publish-errors.ts `unavailable`). */
  readonly unavailable: (what: string, cause: unknown) => JobbusError;
  readonly assertOpen: () => void;
  readonly isClosed: () => boolean;
}

/** The bus's `subscribe`. */
export type SubscribeFn = (topic: string, handler: DeliveryHandler, opts: SubscribeOptions) => Promise<Subscription>;

/** Create the subscribe function of a bus. */
export function createSubscriber(d: SubscriberDeps): SubscribeFn {
  const { consumerOpts, relays } = d;
  const startRelays = async (topic: string): Promise<void> => {
    try {
      await relays.acquire(topic);
    } catch (err) {
      throw d.unavailable(`cannot start the delay relays of "${topic}"`, err);
    }
  };

  const newSubscription = (topic: string, handler: DeliveryHandler, o: ResolvedSubscribeOptions, groupId: string): KafkaSubscription => {
    const sub: KafkaSubscription = createKafkaSubscription({
      topic,
      group: o.group,
      groupId,
      handler,
      ordering: o.ordering,
      maxInFlight: o.maxInFlight,
      ackTimeoutMs: o.ackTimeoutMs,
      redeliveryDelayMs: o.redeliveryDelayMs,
      inMemoryRedeliveryMaxMs: d.inMemoryRedeliveryMaxMs,
      drainTimeoutMs: d.drainTimeoutMs,
      revokeDrainMs: Math.min(d.drainTimeoutMs, consumerOpts.sessionTimeoutMs / 3, consumerOpts.rebalanceTimeoutMs / 3),
      heartbeatTickMs: Math.max(50, Math.min(1_000, Math.floor(consumerOpts.heartbeatIntervalMs / 2))),
      consumer: () => d.client.groupConsumer({ groupId, topics: [topic], ...consumerOpts }),
      maxOffsetSpan: d.maxOffsetSpan,
      republishLater: (message, deliverAt) => d.publish(topic, [message], { deliverAt }),
      logger: d.logger,
      onClosed: () => {
        d.subscriptions.delete(sub);
        void relays.release(topic);
      },
    });
    return sub;
  };

  return async (topic, handler, opts) => {
    d.assertOpen();
    checkTopic(topic);
    if (typeof handler !== 'function') throw new ValidationError('handler', 'must be a function');
    const o = resolveSubscribeOptions(opts, {}, KAFKA_NAME_RE); // a group id takes the topic alphabet
    await startRelays(topic);
    const groupId = d.groupIdOf(o.group, topic);
    let sub: KafkaSubscription | undefined;
    try {
      sub = newSubscription(topic, handler, o, groupId);
      d.subscriptions.add(sub);
      await sub.start();
    } catch (err) {
      if (sub) await sub.close().catch(() => undefined);
      else await relays.release(topic);
      throw d.unavailable(`cannot subscribe to "${topic}" as group "${groupId}"`, err);
    }
    if (d.isClosed()) {
      await sub.close();
      throw new ClosedError('kafka event bus was closed while subscribing');
    }
    return sub;
  };
}
