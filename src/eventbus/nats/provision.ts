/**
 * Streams and consumers of a topic, created on first use (or only verified). Streams are made
 * in streams.ts, consumers here.
 *
 * - Queue stream `<PREFIX>_<escaped topic>` on subject `<prefix>.q.<topic>` (see names.ts).
 * - Delay stream `<queue stream>_DELAY` on `<prefix>.d.<topic>.<tier>`, one subject per delay
 *   tier (WorkQueue retention: a message is deleted once a relay acked it), holding messages
 *   published with a future `deliverAt` until they are due (see relay.ts, delay-tiers.ts), with
 *   one relay consumer `jobbus-relay-<tier>` per tier. `_DELAY` cannot collide with an escaped topic: `_DE` would
 *   be the escape of byte 0xDE, which no topic may contain.
 * - One durable pull consumer per (topic, group). `ack_wait` is set once, by the subscriber that
 *   creates it; later subscribers use the consumer's value (finding D5: a process with another
 *   `ackTimeoutMs` flipped it for the whole group).
 * - `acked` queue streams register each group in the {@link GroupRegistry} before its consumer
 *   is created; a registered group's missing durable is re-created right after its recorded
 *   ack floor, with a loud warning (finding L2), not from whatever is retained.
 */
import type { Logger } from 'pino';
import type { JetStreamManager } from '@nats-io/jetstream';
import { ConflictError, NotFoundError } from '../../errors.js';
import type { NameMapper } from './names.js';
import type { ResolvedNatsOptions } from './options.js';
import type { GroupRegistry } from './registry.js';
import type { DelayTier } from './delay-tiers.js';
import type { JetStreamModule } from './modules.js';
import { nanos } from './protocol.js';
import { cached, createStreamProvisioner, type DelayRef, type StreamRef } from './streams.js';
import { describe, unavailable } from './unavailable.js';

/** Durable name of the relay consumer of one tier of a delay stream. */
export function relayDurable(tier: DelayTier): string {
  return `jobbus-relay-${tier.name}`;
}

export type { DelayRef, StreamRef } from './streams.js';

/** See the module comment. */
export interface Provisioner {
  /** The topic's stream; `retain` (a publish with `PublishOptions.retain`) creates or marks it retained. */
  streamFor(topic: string, retain?: boolean): Promise<StreamRef>;
  /**
   * The topic's stream, or undefined when it does not exist. Never creates one: browsing must
   * not decide a topic's retention before its first publish (see retained.ts).
   */
  existingStreamFor(topic: string): Promise<StreamRef | undefined>;
  delayStreamFor(topic: string): Promise<DelayRef>;
  /** Forget cached provisioning of a topic (its stream was deleted under us). */
  forgetStream(topic: string): void;
  /** Make sure the group's consumer exists; resolves with its effective ack wait, ms. */
  consumerFor(topic: string, group: string, ackWaitMs: number, refresh: boolean): Promise<number>;
  /** Make sure the relay consumer of a tier of the topic's delay stream exists; resolves with its ack wait, ms. */
  relayConsumerFor(topic: string, tier: DelayTier, refresh: boolean): Promise<number>;
}

/** What {@link createProvisioner} needs. */
export interface ProvisionerDeps {
  readonly jsm: JetStreamManager;
  readonly jsmod: JetStreamModule;
  readonly opts: ResolvedNatsOptions;
  readonly names: NameMapper;
  readonly registry: GroupRegistry;
  readonly logger: Logger;
}

/** Create the provisioner of one bus. */
export function createProvisioner(d: ProvisionerDeps): Provisioner {
  const { jsm, jsmod, opts, names, registry, logger } = d;
  const streams = createStreamProvisioner(d);
  const consumers = new Map<string, Promise<number>>();

  const apiCode = (err: unknown): number | undefined => (err instanceof jsmod.JetStreamApiError ? err.code : undefined);
  const isConsumerMissing = (err: unknown): boolean => apiCode(err) === jsmod.JetStreamApiCodes.ConsumerNotFound;

  /** Create a durable, tolerating a concurrent creation by another process. */
  async function addConsumer(stream: string, durable: string, config: Parameters<JetStreamManager['consumers']['add']>[1]): Promise<void> {
    try {
      await jsm.consumers.add(stream, config);
    } catch (err) {
      if (!(await jsm.consumers.info(stream, durable).then(() => true, () => false))) throw err;
    }
  }

  async function provisionConsumer(ref: StreamRef, group: string, ackWaitMs: number): Promise<number> {
    const durable = names.durableOf(group);
    const registered = !ref.retained && !ref.workqueue;
    const before = registered
      ? await registry.register(ref.name, durable, ref.topic, group).catch((err: unknown) => {
          throw unavailable(`cannot register group "${group}" of queue "${ref.topic}" in the group registry`, err);
        })
      : undefined;
    try {
      const info = await jsm.consumers.info(ref.name, durable);
      const effective = info.config.ack_wait ? Math.round(info.config.ack_wait / 1_000_000) : ackWaitMs;
      if (effective !== ackWaitMs) {
        logger.warn(
          { stream: ref.name, group, consumerAckWaitMs: effective, ackTimeoutMs: ackWaitMs },
          'group consumer has another ack wait than this subscriber asks for; keeping the consumer\'s (every process of a group shares it)',
        );
      }
      return effective;
    } catch (err) {
      if (!isConsumerMissing(err)) throw unavailable(`cannot look up consumer ${durable} on ${ref.name}`, err);
    }
    if (opts.provision === 'verify') {
      throw new NotFoundError(`consumer ${durable} of group "${group}" on stream ${ref.name} does not exist (provision: 'verify')`);
    }
    const resume = before !== undefined;
    if (resume) {
      logger.warn(
        { stream: ref.name, group, floor: before.floor },
        `the durable consumer of registered group "${group}" on queue "${ref.topic}" is missing (deleted?); re-creating it at sequence ${before.floor + 1}, right after its last recorded ack floor. Jobs it had acked above that floor run again. Use removeGroup() to retire a group.`,
      );
    }
    try {
      await addConsumer(ref.name, durable, {
        durable_name: durable,
        description: `jobbus group ${group} of ${ref.topic}`,
        ack_policy: jsmod.AckPolicy.Explicit,
        ack_wait: nanos(ackWaitMs),
        ...(resume
          ? { deliver_policy: jsmod.DeliverPolicy.StartSequence, opt_start_seq: before.floor + 1 }
          : { deliver_policy: jsmod.DeliverPolicy.All }),
        // Attempts live in job_attempt; the server must never drop a message on its own.
        max_deliver: -1,
        max_ack_pending: opts.maxAckPending,
      });
    } catch (err) {
      if (ref.workqueue && apiCode(err) !== undefined && /workqueue|overlap|filtered/i.test(describe(err))) {
        throw new ConflictError(
          `queue "${ref.topic}" uses WorkQueue retention, which allows one consumer group; group "${group}" cannot be added (use queueRetention 'acked')`,
          { cause: err },
        );
      }
      throw unavailable(`cannot create consumer ${durable} on ${ref.name}`, err);
    }
    return ackWaitMs;
  }

  async function provisionRelay(delay: DelayRef, tier: DelayTier): Promise<number> {
    const durable = relayDurable(tier);
    try {
      const info = await jsm.consumers.info(delay.name, durable);
      return info.config.ack_wait ? Math.round(info.config.ack_wait / 1_000_000) : opts.relayAckWaitMs;
    } catch (err) {
      if (!isConsumerMissing(err)) throw unavailable(`cannot look up consumer ${durable} on ${delay.name}`, err);
    }
    if (opts.provision === 'verify') throw new NotFoundError(`relay consumer ${durable} of ${delay.name} does not exist (provision: 'verify')`);
    try {
      await addConsumer(delay.name, durable, {
        durable_name: durable,
        description: `jobbus relay of delay tier ${tier.name}: moves ready messages on`,
        filter_subject: delay.subjects.get(tier.name)!,
        ack_policy: jsmod.AckPolicy.Explicit,
        ack_wait: nanos(opts.relayAckWaitMs),
        deliver_policy: jsmod.DeliverPolicy.All,
        max_deliver: -1,
        // Messages waiting out a nak are ack-pending here; this consumer only moves them on, so
        // no limit (a tier's relay holds few: it stops pulling while its head is not ready).
        max_ack_pending: -1,
      });
    } catch (err) {
      throw unavailable(`cannot create relay consumer ${durable} on ${delay.name}`, err);
    }
    return opts.relayAckWaitMs;
  }

  const p: Provisioner = {
    streamFor: (topic, retain) => streams.streamFor(topic, retain),
    existingStreamFor: (topic) => streams.existingStreamFor(topic),
    delayStreamFor: (topic) => streams.delayStreamFor(topic),
    forgetStream(topic) {
      streams.forget(topic);
      for (const k of consumers.keys()) if (k.startsWith(`${topic}\u0000`)) consumers.delete(k);
    },
    async consumerFor(topic, group, ackWaitMs, refresh) {
      if (refresh) p.forgetStream(topic);
      const ref = await p.streamFor(topic);
      return cached(consumers, `${topic}\u0000${group}\u0000${ackWaitMs}`, () => provisionConsumer(ref, group, ackWaitMs));
    },
    async relayConsumerFor(topic, tier, refresh) {
      if (refresh) p.forgetStream(topic);
      const delay = await p.delayStreamFor(topic);
      return cached(consumers, `${topic}\u0000\u0000relay-${tier.name}`, () => provisionRelay(delay, tier));
    },
  };
  return p;
}
