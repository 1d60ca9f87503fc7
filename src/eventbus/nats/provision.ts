/**
 * Streams and consumers of a topic, created on first use (or only verified).
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
import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { ConflictError, JobbusError, NotFoundError, UnavailableError, ValidationError } from '../../errors.js';
import type { NameMapper } from './names.js';
import type { ResolvedNatsOptions } from './options.js';
import type { GroupRegistry } from './registry.js';
import { DELAY_TIERS, type DelayTier } from './delay-tiers.js';
import { isRetainedDescription, markRetained, retainedDescription } from './retained.js';
import { nanos } from './protocol.js';

import type { JetStreamModule } from './modules.js';

/** A provisioned topic. */
export interface StreamRef {
  readonly topic: string;
  readonly name: string;
  readonly subject: string;
  /** Keeps what was consumed (see retained.ts): no group registry, no janitor. */
  readonly retained: boolean;
  readonly workqueue: boolean;
}

/** A provisioned delay stream of a topic. */
export interface DelayRef {
  readonly name: string;
  /** Subject of each tier, by tier name. */
  readonly subjects: ReadonlyMap<string, string>;
  /** Creation time of the stream (ns since epoch as text): part of forward dedup ids. */
  readonly created: string;
}

/** Durable name of the relay consumer of one tier of a delay stream. */
export function relayDurable(tier: DelayTier): string {
  return `jobbus-relay-${tier.name}`;
}

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


function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Create the provisioner of one bus. */
export function createProvisioner(d: ProvisionerDeps): Provisioner {
  const { jsm, jsmod, opts, names, registry, logger } = d;
  const streams = new Map<string, Promise<StreamRef>>();
  const delays = new Map<string, Promise<DelayRef>>();
  const consumers = new Map<string, Promise<number>>();

  const apiCode = (err: unknown): number | undefined => (err instanceof jsmod.JetStreamApiError ? err.code : undefined);
  const isStreamMissing = (err: unknown): boolean => apiCode(err) === jsmod.JetStreamApiCodes.StreamNotFound;
  const isConsumerMissing = (err: unknown): boolean => apiCode(err) === jsmod.JetStreamApiCodes.ConsumerNotFound;
  const unavailable = (what: string, err: unknown): JobbusError =>
    err instanceof JobbusError ? err : new UnavailableError(`${what}: ${describe(err)}`, { cause: err });

  function baseConfig(name: string, subjects: string[], description: string): Partial<StreamConfig> & { name: string } {
    return {
      name,
      subjects,
      storage: opts.storage === 'memory' ? jsmod.StorageType.Memory : jsmod.StorageType.File,
      num_replicas: opts.replicas,
      duplicate_window: nanos(opts.duplicateWindowMs),
      discard: jsmod.DiscardPolicy.Old,
      description,
    };
  }

  /** Look a stream up (it must bind the config's subjects), creating it if `create` and allowed. */
  async function ensureStream(config: Partial<StreamConfig> & { name: string }, topic: string, create = true): Promise<StreamConfig & { created: string }> {
    try {
      const info = await jsm.streams.info(config.name);
      const missing = config.subjects?.find((subject) => !info.config.subjects?.includes(subject));
      if (missing !== undefined) {
        throw new ValidationError('queue', `stream ${config.name} of queue "${topic}" exists but does not bind subject ${missing}`);
      }
      return { ...info.config, created: info.created };
    } catch (err) {
      if (!isStreamMissing(err)) throw unavailable(`cannot look up stream ${config.name} of queue "${topic}"`, err);
    }
    if (!create) throw new NotFoundError(`stream ${config.name} of queue "${topic}" does not exist`);
    if (opts.provision === 'verify') {
      throw new NotFoundError(`stream ${config.name} of queue "${topic}" does not exist (provision: 'verify')`);
    }
    try {
      const info = await jsm.streams.add(config);
      return { ...info.config, created: info.created };
    } catch (err) {
      const code = apiCode(err);
      if (code === 10058) {
        // created meanwhile by another process
        const info = await jsm.streams.info(config.name);
        return { ...info.config, created: info.created };
      }
      if (code === 10065) {
        throw new ValidationError('queue', `queue "${topic}": subject ${config.subjects![0]} overlaps another stream's subjects`, { cause: err });
      }
      throw unavailable(`cannot create stream ${config.name} of queue "${topic}"`, err);
    }
  }

  async function provisionStream(topic: string, retain: boolean, create = true): Promise<StreamRef> {
    const wanted = retain || opts.retainTopic(topic);
    const name = names.streamOf(topic);
    const subject = names.subjectOf(topic);
    const limits = wanted ? opts.retainedLimits : { maxAgeMs: 0, maxMsgs: -1, maxBytes: -1 };
    const config = {
      ...baseConfig(name, [subject], wanted ? retainedDescription(topic) : `jobbus topic ${topic}`),
      retention: !wanted && opts.queueRetention === 'workqueue' ? jsmod.RetentionPolicy.Workqueue : jsmod.RetentionPolicy.Limits,
      max_age: nanos(limits.maxAgeMs),
      max_msgs: limits.maxMsgs,
      max_bytes: limits.maxBytes,
    };
    const got = await ensureStream(config, topic, create);
    // An existing stream says whether it is retained (whoever created it, in whatever process).
    const retained = opts.retainTopic(topic) || isRetainedDescription(got.description);
    return { topic, name, subject, retained, workqueue: got.retention === jsmod.RetentionPolicy.Workqueue };
  }

  /** `ref` marked retained (it existed before its first retained publish: see retained.ts). */
  async function retainedRef(ref: StreamRef): Promise<StreamRef> {
    try {
      await markRetained(jsm, ref, opts, logger);
    } catch (err) {
      throw unavailable(`cannot mark stream ${ref.name} of queue "${ref.topic}" as retained`, err);
    }
    return { ...ref, retained: true };
  }

  async function streamFor(topic: string, retain: boolean): Promise<StreamRef> {
    const p = cached(streams, topic, () => provisionStream(topic, retain));
    const ref = await p;
    if (!retain || ref.retained) return ref;
    if (streams.get(topic) === p) cache(streams, topic, retainedRef(ref));
    // Whatever is cached now (this marking, another one, or a fresh lookup) decides.
    return streamFor(topic, retain);
  }

  async function provisionDelayStream(topic: string): Promise<DelayRef> {
    const name = `${names.streamOf(topic)}_DELAY`;
    const subjects = new Map(DELAY_TIERS.map((t) => [t.name, names.delaySubjectOf(topic, t.name)]));
    const config = { ...baseConfig(name, [...subjects.values()], `jobbus delayed messages of topic ${topic}`), retention: jsmod.RetentionPolicy.Workqueue };
    const got = await ensureStream(config, topic);
    return { name, subjects, created: got.created };
  }

  /** Cache `p` under `key` until it rejects. */
  function cache<T>(map: Map<string, Promise<T>>, key: string, p: Promise<T>): Promise<T> {
    map.set(key, p);
    p.catch(() => {
      if (map.get(key) === p) map.delete(key);
    });
    return p;
  }

  function cached<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
    return map.get(key) ?? cache(map, key, make());
  }

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

  /** The topic's stream, or undefined when it does not exist: never created. */
  async function existingStreamFor(topic: string): Promise<StreamRef | undefined> {
    try {
      const known = streams.get(topic);
      if (known) return await known;
      const ref = await provisionStream(topic, false, false);
      if (!streams.has(topic)) streams.set(topic, Promise.resolve(ref));
      return ref;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  const p: Provisioner = {
    streamFor: (topic, retain = false) => streamFor(topic, retain),
    existingStreamFor,
    delayStreamFor: (topic) => cached(delays, topic, () => provisionDelayStream(topic)),
    forgetStream(topic) {
      streams.delete(topic);
      delays.delete(topic);
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
