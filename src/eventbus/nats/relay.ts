/**
 * Delay relays: a message published with a future `deliverAt` is stored in the topic's delay
 * stream (see provision.ts), on the subject of its delay tier (see delay-tiers.ts), not in the
 * queue stream. Each tier has one relay consumer, shared by every process subscribed to the
 * topic. A tier's relay takes messages in stream order when they are ready (stored + the tier's
 * length; until then it naks the head and pulls nothing more), then either forwards a message to
 * the queue stream (due) or moves it to the tier of its remaining delay, and acks it (WorkQueue
 * retention deletes it). The `near` tier's relay naks each message until it is due.
 *
 * Why (finding S6): a delayed message stored in the queue stream is delivered and nak-delayed
 * at once and stays ack-pending; past the group consumer's `max_ack_pending` the consumer
 * delivers nothing, not even due jobs; and naking a million messages at once costs the worker
 * a minute of CPU. Now the group consumers hold only due work, and a tier relay touches a
 * waiting message once per hop.
 *
 * Dedup ids make a forward or move repeated after a crash between publish and ack a no-op
 * within the target stream's duplicate window (later: a duplicate delivery, same job id). The
 * first delay-stream message of a chain is its origin, `<delay stream created>|<delay seq>`,
 * and a move carries it along (RELAY_ORIGIN_HEADER). A move is
 * `Nats-Msg-Id = jobbus-relay-hop|<created>|<seq of the moved message>`, a forward
 * `jobbus-relay|<origin>`: so when a relay dies after moving a message but before acking it, and
 * the message is due by the time it is redelivered, its forward and the moved copy's forward
 * share one id, and the queue stream keeps one. A forward the queue stream
 * refuses for good (too large for it, DiscardNew limits) stays in the delay stream and is tried
 * again with exponential backoff (up to a minute), logged as an error each time.
 */
import type { Logger } from 'pino';
import { PublishRejectedError } from '../../errors.js';
import { RedeliverAfter, type Message } from '../types.js';
import { relayDurable, type Provisioner } from './provision.js';
import { DELAY_TIERS, FORWARD_LEAD_MS, type DelayTier } from './delay-tiers.js';
import { DUE_AT_HEADER, RELAY_ORIGIN_HEADER } from './wire.js';
import { startSubscriber, type Subscriber, type SubscriberConfig } from './subscriber.js';
import { describe } from './unavailable.js';

/** Forwards one relay runs at once. */
const RELAY_IN_FLIGHT = 512;
/** Longest wait before a refused forward is tried again, ms. */
const RELAY_MAX_BACKOFF_MS = 60_000;

/** What the relays of one bus need. */
export interface RelayDeps {
  readonly prov: Provisioner;
  readonly logger: Logger;
  /**
   * Publish with this dedup id: to the queue stream when `dueAt` is undefined or within
   * FORWARD_LEAD_MS (with its due-time header), else to the delay tier of `dueAt`.
   */
  publish(topic: string, message: Message, dueAt: number | undefined, dedupId: string, relayOrigin?: string): Promise<void>;
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
  readonly started: Promise<Subscriber[]>;
  users: number;
}

/** Create the relays of one bus. */
export function createRelays(d: RelayDeps): Relays {
  const relays = new Map<string, Relay>();

  /** A ready message: forward it when due, else move it to the tier of what is left. */
  async function moveOn(topic: string, created: string, position: string, message: Message, deliveryCount: number): Promise<void> {
    const seq = position.slice(position.lastIndexOf('#') + 1);
    const { [DUE_AT_HEADER]: due, [RELAY_ORIGIN_HEADER]: carried, ...headers } = message.headers;
    const origin = carried ?? `${created}|${seq}`;
    const dueAt = Number(due);
    const delayed = Number.isFinite(dueAt) && dueAt > Date.now();
    try {
      // Due within FORWARD_LEAD_MS: the queue stream (the subscriber holds it until due); later: the tier of what is left.
      // (publish makes the same choice from dueAt: see publish.ts.)
      const forward = !delayed || dueAt - Date.now() <= FORWARD_LEAD_MS;
      if (forward) await d.publish(topic, { ...message, headers }, delayed ? dueAt : undefined, `jobbus-relay|${origin}`);
      else await d.publish(topic, { ...message, headers }, dueAt, `jobbus-relay-hop|${created}|${seq}`, origin);
    } catch (err) {
      if (!(err instanceof PublishRejectedError)) throw err; // transient: redelivered after redeliveryDelayMs
      const wait = Math.min(RELAY_MAX_BACKOFF_MS, 1_000 * 2 ** Math.min(deliveryCount, 6));
      d.logger.error({ err, topic, position, wait }, 'the queue stream refuses a due delayed message; it stays in the delay stream and is tried again');
      throw new RedeliverAfter(wait, describe(err));
    }
  }

  async function runTier(topic: string, tier: DelayTier): Promise<Subscriber> {
    const delay = await d.prov.delayStreamFor(topic);
    const consumerAckWaitMs = await d.prov.relayConsumerFor(topic, tier, false);
    const durable = relayDurable(tier);
    const sub: Subscriber = startSubscriber({
      ...d.subscriberBase,
      topic: `${topic} (delay relay ${tier.name})`,
      group: durable,
      stream: delay.name,
      durable,
      handler: (dl) => moveOn(topic, delay.created, dl.position, dl.message, dl.deliveryCount),
      maxInFlight: RELAY_IN_FLIGHT,
      ackTimeoutMs: consumerAckWaitMs,
      consumerAckWaitMs,
      redeliveryDelayMs: 1_000,
      ordering: 'none',
      // A rung's messages are ready in stream order (stored + the rung's length); `near` ones when due.
      readyAtOf: (storedAt, dueAt) => (tier.holdMs > 0 ? storedAt + tier.holdMs : (dueAt ?? storedAt) - FORWARD_LEAD_MS),
      readyInOrder: tier.holdMs > 0,
      keepDueAt: true,
      inbox: d.newInbox(),
      ensureConsumer: (refresh) => d.prov.relayConsumerFor(topic, tier, refresh),
      onClosed: () => d.track(sub, false),
    });
    d.track(sub, true);
    return sub;
  }

  async function run(topic: string): Promise<Subscriber[]> {
    const started = await Promise.allSettled(DELAY_TIERS.map((t) => runTier(topic, t)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const subs = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (failed) {
      await Promise.allSettled(subs.map((s) => s.subscription.close()));
      throw failed.reason;
    }
    return subs;
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
        // Stopped (its last subscription closed, or the bus closed) while starting: nothing is lost, no one to tell.
        if (relays.get(topic) !== relay) return d.logger.debug({ err, topic }, 'delay relay stopped while starting');
        relays.delete(topic);
        d.logger.error({ err, topic }, 'delay relay could not start; delayed messages of this topic wait until a subscribe starts one');
      });
    },
    async stop(topic) {
      const relay = relays.get(topic);
      if (!relay || --relay.users > 0) return;
      relays.delete(topic);
      const subs = await relay.started.catch(() => []);
      await Promise.allSettled(subs.map((s) => s.subscription.close()));
    },
    async closeAll() {
      const all = [...relays.values()];
      relays.clear();
      await Promise.allSettled(all.map(async (r) => Promise.allSettled((await r.started).map((s) => s.subscription.close()))));
    },
  };
}
