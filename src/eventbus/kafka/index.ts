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
import { ClosedError, InvalidArgumentError, JobbusError, UnavailableError, ValidationError } from '../../errors.js';
import type {
  BatchPublishOptions,
  BrowsableBus,
  DeliveryHandler,
  EventBus,
  Message,
  SubscribeOptions,
  Subscription,
} from '../types.js';
import { resolveSubscribeOptions } from '../delivery.js';
import { browseTopic, removeFromTopic, type BrowseDeps } from './browse.js';
import { loadKafkaJsDriver } from './kafkajs-driver.js';
import { resolveConsumerOptions, type KafkaEventBusOptions } from './options.js';
import type { AdminPort, KafkaClientPort, ProducerPort } from './port.js';
import { classifyPublishError, kafkaAuthError } from './publish-errors.js';
import { createDelayRelay, type RelayCounters } from './relay.js';
import { createRelayManager } from './relays.js';
import { createSender } from './sender.js';
import { createKafkaSubscription, type KafkaSubscription } from './subscription.js';
import { delayTopicName, isSubTierDelay, makeTiers, pickTier } from './tiers.js';
import { createTopicProvisioner, defaultRetentionMs } from './topics.js';
import { DUE_AT_HEADER, encodeHeaders, TARGET_HEADER } from './wire.js';

export type { KafkaEventBusOptions, KafkaBusLogger, KafkaConsumerOptions, KafkaTopicOptions, KafkaTlsOptions, KafkaSaslOptions } from './options.js';
export type * from './port.js';
export { DEFAULT_DELAY_TIERS_MS, type DelayTier } from './tiers.js';
export { DUE_AT_HEADER, TARGET_HEADER } from './wire.js';
export { RELAY_ERROR_HEADER, type RelayCounters } from './relay.js';

/**
 * The Kafka event bus. Also a {@link BrowsableBus} (for the DLQ tools): `browse` reads the
 * newest retained records; `remove` can only truncate on Kafka, so it deletes the prefix of
 * each partition up to the last selected record after first re-appending the unselected records
 * of that prefix, all selected records in one read (see browse.ts; crash-safe: an interruption
 * leaves duplicates, never a loss; survivors get new offsets, so select by content).
 */
export interface KafkaEventBus extends EventBus, BrowsableBus {
  /** Names of the delay-tier topics of `topic` of this bus's ladder, smallest tier first. */
  delayTopics(topic: string): string[];
  /** What the relays of this bus moved aside since it was created (S5). */
  relayCounters(): Readonly<RelayCounters>;
}

const BROWSE_TIMEOUT_MS = 30_000;
const TOPIC_RE = /^[a-zA-Z0-9._-]{1,249}$/;
const LONGEST_TIER_SUFFIX = '.delay.0000ms'.length + 8;

function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || !TOPIC_RE.test(topic) || topic === '.' || topic === '..') {
    throw new ValidationError('topic', `"${String(topic)}" is not a valid Kafka topic name ([a-zA-Z0-9._-], 1-249 chars)`);
  }
  if (topic.length + LONGEST_TIER_SUFFIX > 249) {
    throw new ValidationError('topic', `"${topic.slice(0, 40)}…" is too long to leave room for its delay topics`);
  }
}

function unavailable(what: string, cause: unknown, user: string | undefined): JobbusError {
  const auth = kafkaAuthError(cause, user);
  if (auth) return auth;
  if (cause instanceof JobbusError) return cause;
  return new UnavailableError(`kafka: ${what}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}

/**
 * Create a Kafka event bus. Loads kafkajs (an optional peer dependency) unless `options.client`
 * supplies a driver. Connections are opened lazily, on first use.
 */
export async function createKafkaEventBus(options: KafkaEventBusOptions): Promise<KafkaEventBus> {
  if (!options || !Array.isArray(options.brokers) || options.brokers.length === 0) {
    throw new InvalidArgumentError('createKafkaEventBus: options.brokers must list at least one broker');
  }
  const tiers = makeTiers(options.delayTiersMs);
  const consumerOpts = resolveConsumerOptions(options.consumer);
  // A paused relay keeps its last fetch in memory: small fetches keep a worker with a large
  // delayed backlog small (S6: 1 M waiting jobs, 165 MB RSS with 1 MiB fetches, 111 MB with 64 KiB).
  const relayOpts = resolveConsumerOptions({ maxWaitTimeMs: 100, maxBytesPerPartition: 65_536, ...options.relay }, consumerOpts);
  const groupIdOf = options.groupId ?? ((group: string, topic: string) => `${group}.${topic}`);
  const relayGroupOf = options.relayGroupId ?? ((delayTopic: string) => `jobbus.relay.${delayTopic}`);
  const inMemoryRedeliveryMaxMs = options.inMemoryRedeliveryMaxMs ?? 5_000;
  const drainTimeoutMs = options.drainTimeoutMs ?? 5_000;
  const logger = options.logger;
  const user = options.sasl?.username;
  const client: KafkaClientPort =
    options.client ??
    (await loadKafkaJsDriver({
      brokers: options.brokers,
      clientId: options.clientId ?? 'jobbus',
      ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
      ...(options.sasl ? { sasl: options.sasl } : {}),
      connectionTimeoutMs: options.connectionTimeoutMs ?? 3_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      idempotent: options.idempotent ?? true,
      ...(logger ? { logger } : {}),
    }));

  let closed = false;
  let closing: Promise<void> | undefined;

  // Lazily connected, memoized; a failed connect is forgotten so the next call retries.
  const lazy = <T>(connect: () => Promise<T>): { get(): Promise<T>; peek(): Promise<T> | undefined } => {
    let p: Promise<T> | undefined;
    return {
      get() {
        p ??= connect().catch((err: unknown) => {
          p = undefined;
          throw err;
        });
        return p;
      },
      peek: () => p,
    };
  };
  const producer = lazy<ProducerPort>(() => client.producer());
  const admin = lazy<AdminPort>(() => client.admin());

  const autoCreateTopics = options.autoCreateTopics ?? true;
  const provisioner = createTopicProvisioner(() => admin.get(), {
    autoCreate: autoCreateTopics,
    partitions: options.topics?.partitions ?? 8,
    delayPartitions: options.topics?.delayPartitions ?? options.topics?.partitions ?? 8,
    replicationFactor: options.topics?.replicationFactor ?? -1,
    configs: options.topics?.configs ?? {},
    retentionMs: options.topics?.retentionMs ?? defaultRetentionMs(tiers[tiers.length - 1]!.ms),
  });
  const send = createSender({
    producer: () => producer.get(),
    autoCreateTopics,
    ...(user !== undefined ? { user } : {}),
    onFailure: (topic) => provisioner.forget(topic), // deleted behind our back? the next publish checks again
  });
  const ensure = async (topic: string, topics: Parameters<typeof provisioner.ensure>[0]): Promise<void> => {
    try {
      await provisioner.ensure(topics);
    } catch (err) {
      throw classifyPublishError(topic, err, { autoCreateTopics, ...(user !== undefined ? { user } : {}) });
    }
  };

  const subscriptions = new Set<KafkaSubscription>();
  const counters: RelayCounters = { deadLettered: 0, skipped: 0 };
  const deadLetterTopicOf = options.deadLetterTopicOf ?? ((topic: string) => `${topic}.dlq`);
  const relays = createRelayManager({
    tiers,
    provisioner,
    listTopics: async () => (await admin.get()).listTopics(),
    discoveryIntervalMs: options.relayDiscoveryIntervalMs ?? 30_000,
    logger,
    createRelay: (queue, tier) => {
      const delayTopic = delayTopicName(queue, tier);
      const deadLetterTopic = deadLetterTopicOf(queue);
      return createDelayRelay({
        delayTopic,
        tier,
        tiers,
        target: queue,
        groupId: relayGroupOf(delayTopic),
        newConsumer: () => client.groupConsumer({ groupId: relayGroupOf(delayTopic), topics: [delayTopic], ...relayOpts }),
        // The queue and this ladder's tiers exist (relays.ts); the dead-letter topic may not yet.
        send: async (topic, records) => {
          if (topic === deadLetterTopic) await ensure(topic, [{ name: topic }]);
          await send(topic, records);
        },
        deadLetterTopic,
        counters,
        logger,
        ...(options.relayBackoffMs !== undefined ? { backoffMs: options.relayBackoffMs } : {}),
        ...(options.relaySkipRefusedAfter !== undefined ? { maxRejectedAttempts: options.relaySkipRefusedAfter } : {}),
      });
    },
  });

  const assertOpen = (): void => {
    if (closed) throw new ClosedError('kafka event bus is closed');
  };

  const publishMany = async (topic: string, messages: readonly Message[], opts?: BatchPublishOptions): Promise<void> => {
    assertOpen();
    checkTopic(topic);
    if (!Array.isArray(messages)) throw new ValidationError('messages', 'must be an array');
    for (const m of messages) {
      if (!m || !(m.value instanceof Uint8Array)) throw new ValidationError('message.value', 'must be a Uint8Array');
    }
    if (messages.length === 0) return;
    // dedupId / mustStore: Kafka has no broker-side dedup by id, and a produce acknowledged with
    // acks = all always stored the records: nothing to do for either.
    const deliverAt = opts?.deliverAt;
    if (deliverAt !== undefined && !(deliverAt instanceof Date && Number.isFinite(deliverAt.getTime()))) {
      throw new ValidationError('deliverAt', 'must be a valid Date');
    }
    const dueMs = deliverAt?.getTime();
    const now = Date.now();
    if (dueMs === undefined || dueMs <= now || isSubTierDelay(tiers, dueMs - now)) {
      // Due, or due within the smallest tier: straight to the topic; a future due time travels
      // along and the subscriber holds the message until then (tiers.ts, isSubTierDelay).
      const early = dueMs !== undefined && dueMs > now;
      await ensure(topic, [{ name: topic }]);
      await send(
        topic,
        messages.map((m) => {
          const headers = encodeHeaders(m.headers ?? {}, m.invalidHeaders);
          return { key: m.key, value: m.value, headers: early ? { ...headers, [DUE_AT_HEADER]: String(dueMs) } : headers };
        }),
      );
      return;
    }
    const tier = pickTier(tiers, dueMs - now);
    const delayTopic = delayTopicName(topic, tier);
    await ensure(delayTopic, [{ name: topic }, { name: delayTopic, delay: true }]);
    const due = String(dueMs);
    await send(
      delayTopic,
      messages.map((m) => ({
        key: m.key,
        value: m.value,
        headers: { ...encodeHeaders(m.headers ?? {}, m.invalidHeaders), [DUE_AT_HEADER]: due, [TARGET_HEADER]: topic },
        // The tier clock starts at this timestamp (tiers.ts): set it here, not in the client.
        timestamp: now,
      })),
    );
  };

  const startRelays = async (topic: string): Promise<void> => {
    try {
      await relays.acquire(topic);
    } catch (err) {
      throw unavailable(`cannot start the delay relays of "${topic}"`, err, user);
    }
  };

  const browseDeps: BrowseDeps = {
    admin: () => admin.get(),
    client,
    send,
    chunkRecords: options.removeChunkRecords ?? 5_000,
    timeoutMs: BROWSE_TIMEOUT_MS,
    unavailable: (what, err) => unavailable(what, err, user),
  };

  const bus: KafkaEventBus = {
    maxMessageBytes: options.maxMessageBytes ?? 1_000_000,

    publish(topic, message, opts) {
      return publishMany(topic, [message], opts);
    },

    publishBatch(topic, messages, opts) {
      return publishMany(topic, messages, opts);
    },

    async subscribe(topic: string, handler: DeliveryHandler, opts: SubscribeOptions): Promise<Subscription> {
      assertOpen();
      checkTopic(topic);
      if (typeof handler !== 'function') throw new ValidationError('handler', 'must be a function');
      const o = resolveSubscribeOptions(opts, {}, TOPIC_RE); // a group id is a name of the topic alphabet
      await startRelays(topic);
      const groupId = groupIdOf(o.group, topic);
      let sub: KafkaSubscription | undefined;
      try {
        sub = createKafkaSubscription({
          topic,
          group: o.group,
          groupId,
          handler,
          ordering: o.ordering,
          maxInFlight: o.maxInFlight,
          ackTimeoutMs: o.ackTimeoutMs,
          redeliveryDelayMs: o.redeliveryDelayMs,
          inMemoryRedeliveryMaxMs,
          drainTimeoutMs,
          revokeDrainMs: Math.min(drainTimeoutMs, consumerOpts.sessionTimeoutMs / 3, consumerOpts.rebalanceTimeoutMs / 3),
          heartbeatTickMs: Math.max(50, Math.min(1_000, Math.floor(consumerOpts.heartbeatIntervalMs / 2))),
          consumer: () => client.groupConsumer({ groupId, topics: [topic], ...consumerOpts }),
          maxOffsetSpan: options.maxOffsetSpan,
          republishLater: (message, deliverAt) => publishMany(topic, [message], { deliverAt }),
          logger,
          onClosed: () => {
            subscriptions.delete(sub!);
            void relays.release(topic);
          },
        });
        subscriptions.add(sub);
        await sub.start();
      } catch (err) {
        if (sub) await sub.close().catch(() => undefined);
        else await relays.release(topic);
        throw unavailable(`cannot subscribe to "${topic}" as group "${groupId}"`, err, user);
      }
      if (closed) {
        await sub.close();
        throw new ClosedError('kafka event bus was closed while subscribing');
      }
      return sub;
    },

    async healthCheck() {
      assertOpen();
      let info;
      try {
        info = await (await admin.get()).describeCluster();
      } catch (err) {
        throw unavailable('cluster unreachable', err, user);
      }
      if (info.brokers === 0) throw new UnavailableError('kafka: the cluster reports no live brokers');
      if (info.controller === null || info.controller < 0) {
        throw new UnavailableError('kafka: the cluster has no active controller');
      }
      // A subscription whose consumer crashed is down until its member is assigned again (S3).
      for (const sub of subscriptions) {
        const down = sub.health();
        if (down) throw down;
      }
      const relayDown = relays.health();
      if (relayDown) throw relayDown;
    },

    close() {
      closing ??= (async () => {
        closed = true;
        await Promise.allSettled([...subscriptions].map((s) => s.close()));
        await relays.close();
        const p = producer.peek();
        const a = admin.peek();
        await Promise.allSettled([
          p?.then((x) => x.disconnect()),
          a?.then((x) => x.disconnect()),
        ]);
      })();
      return closing;
    },

    delayTopics(topic) {
      return tiers.map((t) => delayTopicName(topic, t));
    },

    relayCounters() {
      return { ...counters };
    },

    async browse(topic, limit) {
      assertOpen();
      checkTopic(topic);
      return browseTopic(browseDeps, topic, limit);
    },

    async remove(topic, select) {
      assertOpen();
      checkTopic(topic);
      if (typeof select !== 'function') throw new ValidationError('select', 'must be a function');
      return removeFromTopic(browseDeps, topic, select);
    },
  };

  return bus;
}
