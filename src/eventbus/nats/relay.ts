/**
 * Delay relays: a message published with a future `deliverAt` is stored in the topic's delay
 * stream (see provision.ts), not in the queue stream. One relay consumer per delay stream,
 * shared by every process subscribed to the topic, gets each message, naks it with the time
 * left until it is due (the subscriber's early-delivery path), and when it is due publishes it
 * to the queue stream, then acks it (WorkQueue retention deletes it).
 *
 * Why (finding S6): a delayed message stored in the queue stream is delivered and nak-delayed
 * at once and stays ack-pending; past the group consumer's `max_ack_pending` the consumer
 * delivers nothing, not even due jobs. Now the group consumers hold only due work; waiting
 * messages are ack-pending on the relay consumer, which has no limit and only forwards.
 *
 * A forward carries `Nats-Msg-Id = jobbus-relay|<delay stream created>|<delay seq>`: a forward
 * repeated after a crash between publish and ack is dropped by the queue stream within its
 * duplicate window (later: a duplicate delivery, same job id). A forward the queue stream
 * refuses for good (too large for it, DiscardNew limits) stays in the delay stream and is tried
 * again with exponential backoff (up to a minute), logged as an error each time.
 */
import type { Logger } from 'pino';
import { PublishRejectedError } from '../../jobs/errors.js';
import { RedeliverAfter, type Message } from '../types.js';
import { RELAY_DURABLE, type Provisioner } from './provision.js';
import { startSubscriber, type Subscriber, type SubscriberConfig } from './subscriber.js';

/** Forwards one relay runs at once. */
const RELAY_IN_FLIGHT = 64;
/** Longest wait before a refused forward is tried again, ms. */
const RELAY_MAX_BACKOFF_MS = 60_000;

/** What the relays of one bus need. */
export interface RelayDeps {
  readonly prov: Provisioner;
  readonly logger: Logger;
  /** Publish to the topic's queue stream with this dedup id. */
  publish(topic: string, message: Message, dedupId: string): Promise<void>;
  /** Subscriber settings shared with the bus (connection, ack mode, pull lifetime…). */
  readonly subscriberBase: Pick<SubscriberConfig, 'ackMode' | 'pullExpiresMs' | 'settleTimeoutMs' | 'logger' | 'nc'>;
  newInbox(): string;
  /** Called with every relay subscriber started (the bus re-pulls them after a reconnect) and stopped. */
  track(sub: Subscriber, live: boolean): void;
}

/** The relays of one bus, one per topic with a live subscription. */
export interface Relays {
  /** A subscription of `topic` started: run its relay (counted). */
  start(topic: string): void;
  /** A subscription of `topic` closed: stop the relay after the last one. */
  stop(topic: string): Promise<void>;
  /** Stop every relay. */
  closeAll(): Promise<void>;
}

interface Relay {
  readonly started: Promise<Subscriber>;
  users: number;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Create the relays of one bus. */
export function createRelays(d: RelayDeps): Relays {
  const relays = new Map<string, Relay>();

  async function forward(topic: string, created: string, position: string, message: Message, deliveryCount: number): Promise<void> {
    const seq = position.slice(position.lastIndexOf('#') + 1);
    try {
      await d.publish(topic, message, `jobbus-relay|${created}|${seq}`);
    } catch (err) {
      if (!(err instanceof PublishRejectedError)) throw err; // transient: redelivered after redeliveryDelayMs
      const wait = Math.min(RELAY_MAX_BACKOFF_MS, 1_000 * 2 ** Math.min(deliveryCount, 6));
      d.logger.error({ err, topic, position, wait }, 'the queue stream refuses a due delayed message; it stays in the delay stream and is tried again');
      throw new RedeliverAfter(wait, describe(err));
    }
  }

  async function run(topic: string): Promise<Subscriber> {
    const delay = await d.prov.delayStreamFor(topic);
    const consumerAckWaitMs = await d.prov.relayConsumerFor(topic, false);
    const sub: Subscriber = startSubscriber({
      ...d.subscriberBase,
      topic: `${topic} (delay relay)`,
      group: RELAY_DURABLE,
      stream: delay.name,
      durable: RELAY_DURABLE,
      handler: (dl) => forward(topic, delay.created, dl.position, dl.message, dl.deliveryCount),
      maxInFlight: RELAY_IN_FLIGHT,
      ackTimeoutMs: consumerAckWaitMs,
      consumerAckWaitMs,
      redeliveryDelayMs: 1_000,
      ordering: 'none',
      inbox: d.newInbox(),
      ensureConsumer: (refresh) => d.prov.relayConsumerFor(topic, refresh),
      onClosed: () => d.track(sub, false),
    });
    d.track(sub, true);
    return sub;
  }

  return {
    start(topic) {
      const known = relays.get(topic);
      if (known) {
        known.users++;
        return;
      }
      const relay: Relay = { users: 1, started: run(topic) };
      relays.set(topic, relay);
      relay.started.catch((err: unknown) => {
        if (relays.get(topic) === relay) relays.delete(topic);
        d.logger.error({ err, topic }, 'delay relay could not start; delayed messages of this topic wait until a subscribe starts one');
      });
    },
    async stop(topic) {
      const relay = relays.get(topic);
      if (!relay || --relay.users > 0) return;
      relays.delete(topic);
      const sub = await relay.started.catch(() => undefined);
      await sub?.subscription.close();
    },
    async closeAll() {
      const all = [...relays.values()];
      relays.clear();
      await Promise.allSettled(all.map(async (r) => (await r.started).subscription.close()));
    },
  };
}
