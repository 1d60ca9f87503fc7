/**
 * Subscribing: check the options (the shared kernel's defaults, `defaultAckTimeoutMs` for the
 * lease), make sure the group's consumer exists, start the topic's delay relay and a subscriber
 * (subscriber.ts), and let the janitor clean the stream when its retention asks for it.
 */
import type { Logger } from 'pino';
import type { NatsConnection } from '@nats-io/nats-core';
import { InvalidArgumentError } from '../../errors.js';
import { resolveSubscribeOptions } from '../delivery.js';
import type { EventBus } from '../types.js';
import type { NameMapper } from './names.js';
import type { ResolvedNatsOptions } from './options.js';
import type { Provisioner, StreamRef } from './provision.js';
import type { Relays } from './relay.js';
import { startSubscriber, type Subscriber } from './subscriber.js';

/** What {@link createSubscribe} needs. */
export interface SubscribeDeps {
  readonly prov: Provisioner;
  readonly names: NameMapper;
  readonly relays: Relays;
  readonly opts: ResolvedNatsOptions;
  readonly logger: Logger;
  readonly nc: NatsConnection;
  /** Longest a closing subscriber waits for the server, ms. */
  readonly settleTimeoutMs: number;
  /** The bus's live subscribers (it re-pulls them after a reconnect and closes them). */
  readonly subscribers: Set<Subscriber>;
  newInbox(): string;
  /** A subscriber of this stream started: the janitor cleans it if its retention asks for it. */
  consumed(ref: StreamRef): void;
  /** Throws a ClosedError once the bus is closed. */
  assertOpen(): void;
}

/** Create the bus's `subscribe`. */
export function createSubscribe(d: SubscribeDeps): EventBus['subscribe'] {
  const { prov, opts } = d;
  return async (topic, handler, so) => {
    d.assertOpen();
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function');
    const { group, maxInFlight, ackTimeoutMs, redeliveryDelayMs, ordering } = resolveSubscribeOptions(so, { ackTimeoutMs: opts.defaultAckTimeoutMs });
    const ref = await prov.streamFor(topic);
    const consumerAckWaitMs = await prov.consumerFor(topic, group, ackTimeoutMs, false);
    d.consumed(ref);
    d.relays.start(topic);
    const sub = startSubscriber({
      topic,
      group,
      stream: ref.name,
      durable: d.names.durableOf(group),
      handler,
      maxInFlight,
      ackTimeoutMs,
      consumerAckWaitMs,
      redeliveryDelayMs,
      ordering,
      ackMode: opts.ackMode,
      pullExpiresMs: opts.pullExpiresMs,
      settleTimeoutMs: d.settleTimeoutMs,
      logger: d.logger,
      nc: d.nc,
      inbox: d.newInbox(),
      ensureConsumer: (refresh) => prov.consumerFor(topic, group, ackTimeoutMs, refresh),
      onClosed: () => {
        d.subscribers.delete(sub);
        void d.relays.stop(topic);
      },
    });
    d.subscribers.add(sub);
    return sub.subscription;
  };
}
