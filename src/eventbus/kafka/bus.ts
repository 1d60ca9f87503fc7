/**
 * The Kafka bus: composes the client, the topic provisioner, the sender, the delay relays,
 * publishing (publish.ts), subscribing (subscribe.ts) and browsing (browse.ts). The topic and
 * group layout is described in index.ts.
 *
 * Bus state: OPEN --close()--> CLOSED. close() closes the subscriptions, then the relays, then
 * the producer and admin connections; every call after it (and a subscribe that finishes
 * starting after it) fails with a ClosedError.
 */
import { ClosedError, InvalidArgumentError, NotInitializedError, UnavailableError } from '../../errors.js';
import type { BrowsableBus, EventBus, QueueStatsBus } from '../types.js';
import { createBrowser } from './browse.js';
import { loadKafkaJsDriver } from './kafkajs-driver.js';
import { loadPlatformaticDriver } from './platformatic-driver.js';
import { resolveConsumerOptions, type KafkaDriverName, type KafkaEventBusOptions, type ResolvedConsumerOptions } from './options.js';
import type { AdminPort, DriverOptions, KafkaClientPort, ProducerPort } from './port.js';
import { createPublisher, type EnsureFn } from './publish.js';
import { classifyPublishError, unavailable } from './publish-errors.js';
import { createDelayRelay, type RelayCounters } from './relay.js';
import { createRelayManager, type RelayManager } from './relays.js';
import { createSender, type SendFn } from './sender.js';
import { createTopicStats } from './stats.js';
import { createSubscriber } from './subscribe.js';
import type { KafkaSubscription } from './subscription.js';
import { delayTopicName, makeTiers, type DelayTier } from './tiers.js';
import { createTopicProvisioner, defaultRetentionMs, type TopicProvisioner } from './topics.js';

/**
 * The Kafka event bus. Also a {@link BrowsableBus} (for the DLQ tools): `browse` reads the
 * newest retained records; `remove` can only truncate on Kafka, so it deletes the prefix of
 * each partition up to the last selected record after first re-appending the unselected records
 * of that prefix, all selected records in one read (see browse.ts; crash-safe: an interruption
 * leaves duplicates, never a loss; survivors get new offsets, so select by content).
 */
export interface KafkaEventBus extends EventBus, BrowsableBus, QueueStatsBus {
  /** Names of the delay-tier topics of `topic` of this bus's ladder, smallest tier first. */
  delayTopics(topic: string): string[];
  /** What the relays of this bus moved aside since it was created (S5). */
  relayCounters(): Readonly<RelayCounters>;
  /** The client library behind the bus (`custom`: one given as `options.client`). */
  readonly driver: KafkaDriverName | 'custom';
}

const BROWSE_TIMEOUT_MS = 30_000;

/** A lazily connected, memoized connection; a failed connect is forgotten so the next call retries. */
interface Lazy<T> {
  get(): Promise<T>;
  /** The connection if one was asked for (to disconnect it), without connecting. */
  peek(): Promise<T> | undefined;
}

function lazy<T>(connect: () => Promise<T>): Lazy<T> {
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
}

/** The client driver of a bus and which one it is (`custom`: `options.client`). */
interface ChosenClient {
  readonly client: KafkaClientPort;
  readonly driver: KafkaDriverName | 'custom';
}

/**
 * The client driver: `options.client`, else the library `options.driver` names, else the default:
 * `@platformatic/kafka` when it can be loaded (the faster one in `npm run bench`: bench/README.md),
 * else kafkajs. Both are optional peer dependencies.
 */
async function clientOf(options: KafkaEventBusOptions): Promise<ChosenClient> {
  if (options.client) return { client: options.client, driver: 'custom' };
  const driver = options.driver;
  if (driver !== undefined && driver !== 'kafkajs' && driver !== 'platformatic') {
    throw new InvalidArgumentError(`createKafkaEventBus: options.driver must be 'kafkajs' or 'platformatic' (got ${JSON.stringify(driver)})`);
  }
  const settings: DriverOptions = {
    brokers: options.brokers,
    clientId: options.clientId ?? 'jobbus',
    ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
    ...(options.sasl ? { sasl: options.sasl } : {}),
    connectionTimeoutMs: options.connectionTimeoutMs ?? 3_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    idempotent: options.idempotent ?? true,
    ...(options.logger ? { logger: options.logger } : {}),
  };
  if (driver === 'kafkajs') return { client: await loadKafkaJsDriver(settings), driver };
  if (driver === 'platformatic') return { client: await loadPlatformaticDriver(settings), driver };
  try {
    return { client: await loadPlatformaticDriver(settings), driver: 'platformatic' };
  } catch (platformaticMissing) {
    if (!(platformaticMissing instanceof NotInitializedError)) throw platformaticMissing;
    try {
      return { client: await loadKafkaJsDriver(settings), driver: 'kafkajs' };
    } catch (kafkajsMissing) {
      if (!(kafkajsMissing instanceof NotInitializedError)) throw kafkajsMissing;
      throw new NotInitializedError(
        'jobbus/kafka needs a Kafka client library, an optional peer dependency: install @platformatic/kafka (the default; ^1.35.0 on Node 20, ^2.0.0 on Node 22+) with `npm install @platformatic/kafka`, or kafkajs (^2.2.4) with `npm install kafkajs`',
        { cause: kafkajsMissing },
      );
    }
  }
}

function provisionerOf(options: KafkaEventBusOptions, tiers: readonly DelayTier[], admin: Lazy<AdminPort>): TopicProvisioner {
  return createTopicProvisioner(() => admin.get(), {
    autoCreate: options.autoCreateTopics ?? true,
    partitions: options.topics?.partitions ?? 8,
    delayPartitions: options.topics?.delayPartitions ?? options.topics?.partitions ?? 8,
    replicationFactor: options.topics?.replicationFactor ?? -1,
    configs: options.topics?.configs ?? {},
    retentionMs: options.topics?.retentionMs ?? defaultRetentionMs(tiers[tiers.length - 1]!.ms),
  });
}

/** What the relay manager is built from. */
interface RelayParts {
  readonly options: KafkaEventBusOptions;
  readonly tiers: readonly DelayTier[];
  readonly client: KafkaClientPort;
  readonly admin: Lazy<AdminPort>;
  readonly provisioner: TopicProvisioner;
  readonly ensure: EnsureFn;
  readonly send: SendFn;
  readonly consumerOpts: ResolvedConsumerOptions;
  readonly counters: RelayCounters;
}

/** The delay relays of the queues subscribed in this process, one per tier topic (relays.ts). */
/** Kafka group id of the relay of a delay topic (queue stats read its lag too). */
function relayGroupIdOf(options: KafkaEventBusOptions): (delayTopic: string) => string {
  return options.relayGroupId ?? ((delayTopic: string) => `jobbus.relay.${delayTopic}`);
}

function relaysOf({ options, tiers, client, admin, provisioner, ensure, send, consumerOpts, counters }: RelayParts): RelayManager {
  // A paused relay keeps its last fetch in memory: small fetches keep a worker with a large
  // delayed backlog small (S6: 1 M waiting jobs, 165 MB RSS with 1 MiB fetches, 111 MB with 64 KiB).
  const relayOpts = resolveConsumerOptions({ maxWaitTimeMs: 100, maxBytesPerPartition: 65_536, ...options.relay }, consumerOpts);
  const relayGroupOf = relayGroupIdOf(options);
  const deadLetterTopicOf = options.deadLetterTopicOf ?? ((topic: string) => `${topic}.dlq`);
  return createRelayManager({
    tiers,
    provisioner,
    listTopics: async () => (await admin.get()).listTopics(),
    discoveryIntervalMs: options.relayDiscoveryIntervalMs ?? 30_000,
    logger: options.logger,
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
        logger: options.logger,
        ...(options.relayBackoffMs !== undefined ? { backoffMs: options.relayBackoffMs } : {}),
        ...(options.relaySkipRefusedAfter !== undefined ? { maxRejectedAttempts: options.relaySkipRefusedAfter } : {}),
      });
    },
  });
}

/** The sender of every produce, and topic creation, both with publish errors classified. */
function sendingOf(options: KafkaEventBusOptions, provisioner: TopicProvisioner, producer: Lazy<ProducerPort>): { send: SendFn; ensure: EnsureFn } {
  const autoCreateTopics = options.autoCreateTopics ?? true;
  const user = options.sasl?.username;
  const send = createSender({
    producer: () => producer.get(),
    autoCreateTopics,
    ...(user !== undefined ? { user } : {}),
    onFailure: (topic) => provisioner.forget(topic), // deleted behind our back? the next publish checks again
  });
  const ensure: EnsureFn = async (topic, topics) => {
    try {
      await provisioner.ensure(topics);
    } catch (err) {
      throw classifyPublishError(topic, err, { autoCreateTopics, ...(user !== undefined ? { user } : {}) });
    }
  };
  return { send, ensure };
}

/** The bus's health check: down when the cluster is, or a subscription's or relay's group member is (S3). */
function healthCheckOf(
  admin: Lazy<AdminPort>,
  subscriptions: ReadonlySet<KafkaSubscription>,
  relays: RelayManager,
  user: string | undefined,
  assertOpen: () => void,
): () => Promise<void> {
  return async () => {
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
  };
}

/**
 * Create a Kafka event bus. Loads the client library of `options.driver` (default:
 * `@platformatic/kafka` if installed, else kafkajs; both optional peer dependencies) unless
 * `options.client` supplies a driver. Connections are opened lazily, on first use.
 */
export async function createKafkaEventBus(options: KafkaEventBusOptions): Promise<KafkaEventBus> {
  if (!options || !Array.isArray(options.brokers) || options.brokers.length === 0) {
    throw new InvalidArgumentError('createKafkaEventBus: options.brokers must list at least one broker');
  }
  const tiers = makeTiers(options.delayTiersMs);
  const consumerOpts = resolveConsumerOptions(options.consumer);
  const user = options.sasl?.username;
  const { client, driver } = await clientOf(options);
  let closed = false;
  let closing: Promise<void> | undefined;
  const producer = lazy<ProducerPort>(() => client.producer());
  const admin = lazy<AdminPort>(() => client.admin());
  const provisioner = provisionerOf(options, tiers, admin);
  const { send, ensure } = sendingOf(options, provisioner, producer);
  const subscriptions = new Set<KafkaSubscription>();
  const counters: RelayCounters = { deadLettered: 0, skipped: 0 };
  const relays = relaysOf({ options, tiers, client, admin, provisioner, ensure, send, consumerOpts, counters });
  const assertOpen = (): void => {
    if (closed) throw new ClosedError('kafka event bus is closed');
  };
  const publish = createPublisher({ tiers, ensure, send, assertOpen });
  const groupIdOf = options.groupId ?? ((group: string, topic: string) => `${group}.${topic}`);
  const subscribe = createSubscriber({
    client,
    consumerOpts,
    groupIdOf,
    relays,
    subscriptions,
    publish,
    inMemoryRedeliveryMaxMs: options.inMemoryRedeliveryMaxMs ?? 5_000,
    drainTimeoutMs: options.drainTimeoutMs ?? 5_000,
    maxOffsetSpan: options.maxOffsetSpan,
    logger: options.logger,
    unavailable: (what, err) => unavailable(what, err, user),
    assertOpen,
    isClosed: () => closed,
  });
  const browser = createBrowser(
    { admin: () => admin.get(), client, send, chunkRecords: options.removeChunkRecords ?? 5_000, timeoutMs: BROWSE_TIMEOUT_MS, unavailable: (what, err) => unavailable(what, err, user) },
    assertOpen,
  );
  const close = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      await Promise.allSettled([...subscriptions].map((s) => s.close()));
      await relays.close();
      const p = producer.peek();
      const a = admin.peek();
      await Promise.allSettled([p?.then((x) => x.disconnect()), a?.then((x) => x.disconnect())]);
    })();
    return closing;
  };

  return {
    driver,
    maxMessageBytes: options.maxMessageBytes ?? 1_000_000,
    publish: (topic, message, opts) => publish(topic, [message], opts),
    publishBatch: (topic, messages, opts) => publish(topic, messages, opts),
    subscribe,
    healthCheck: healthCheckOf(admin, subscriptions, relays, user, assertOpen),
    close,
    delayTopics: (topic) => tiers.map((t) => delayTopicName(topic, t)),
    relayCounters: () => ({ ...counters }),
    browse: browser.browse,
    remove: browser.remove,
    ...createTopicStats({
      admin: () => admin.get(),
      groupIdOf,
      delayTopics: (topic) => tiers.map((t) => delayTopicName(topic, t)),
      relayGroupOf: relayGroupIdOf(options),
      unavailable: (what, err) => unavailable(what, err, user),
      assertOpen,
    }),
  };
}
