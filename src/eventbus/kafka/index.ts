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
 *
 * Delivery: at-least-once; per-partition contiguous-prefix commits; concurrent dispatch within
 * a partition by key (see subscription.ts); delays persisted in the tier topics (see tiers.ts,
 * relay.ts). A message published with `deliverAt` is never delivered before it.
 */
import { ClosedError, InvalidArgumentError, JobbusError, UnavailableError, ValidationError } from '../../jobs/errors.js';
import type {
  BrowsableBus,
  BrowsedMessage,
  DeliveryHandler,
  EventBus,
  Message,
  Ordering,
  PublishOptions,
  SubscribeOptions,
  Subscription,
} from '../types.js';
import { setHeader } from '../header-record.js';
import { loadKafkaJsDriver } from './kafkajs-driver.js';
import { resolveConsumerOptions, type KafkaEventBusOptions } from './options.js';
import type { AdminPort, KafkaClientPort, PartitionRecord, ProducerPort, ProduceRecord } from './port.js';
import { createDelayRelay, type DelayRelay } from './relay.js';
import { createKafkaSubscription, type KafkaSubscription } from './subscription.js';
import { delayTopicName, isSubTierDelay, makeTiers, pickTier } from './tiers.js';
import { createTopicProvisioner } from './topics.js';
import { decodeKey, DUE_AT_HEADER, encodeHeaders, TARGET_HEADER, toBytes, toMessage, type RawHeaderValue } from './wire.js';

export type { KafkaEventBusOptions, KafkaBusLogger, KafkaConsumerOptions, KafkaTopicOptions } from './options.js';
export type * from './port.js';
export { DEFAULT_DELAY_TIERS_MS, type DelayTier } from './tiers.js';
export { BINARY_HEADERS, DUE_AT_HEADER, TARGET_HEADER } from './wire.js';

/**
 * The Kafka event bus. Also a {@link BrowsableBus} (for the DLQ tools): `browse` reads the
 * newest retained records; `remove` can only truncate on Kafka, so it deletes the prefix of
 * each partition up to the last selected record after first re-appending the unselected records
 * of that prefix (crash-safe: an interruption leaves duplicates, never a loss; survivors get
 * new offsets).
 */
export interface KafkaEventBus extends EventBus, BrowsableBus {
  /** Names of the delay-tier topics of `topic`, smallest tier first. */
  delayTopics(topic: string): string[];
}

const BROWSE_TIMEOUT_MS = 30_000;

function toBrowsed(topic: string, r: PartitionRecord): BrowsedMessage {
  return { ...toMessage(r.key, r.value, r.headers), position: `${topic}/${r.partition}@${r.offset}`, publishedAt: new Date(r.timestamp) };
}

function rawHeaders(headers: Readonly<Record<string, RawHeaderValue>> | undefined): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    setHeader(out, k, last === null || last === undefined ? new Uint8Array(0) : typeof last === 'string' ? new TextEncoder().encode(last) : toBytes(last as Uint8Array));
  }
  return out;
}

const TOPIC_RE = /^[a-zA-Z0-9._-]{1,249}$/;
const SEND_CHUNK = 1_000;
const SEND_CHUNK_BYTES = 512 * 1024;

function approxSize(r: ProduceRecord): number {
  let n = r.value.byteLength + (r.key?.length ?? 0) + 24;
  for (const k in r.headers) {
    const v = r.headers[k]!;
    n += k.length + (typeof v === 'string' ? v.length * 3 : v.byteLength) + 4;
  }
  return n;
}
const LONGEST_TIER_SUFFIX = '.delay.0000ms'.length + 8;

function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || !TOPIC_RE.test(topic) || topic === '.' || topic === '..') {
    throw new ValidationError('topic', `"${String(topic)}" is not a valid Kafka topic name ([a-zA-Z0-9._-], 1-249 chars)`);
  }
  if (topic.length + LONGEST_TIER_SUFFIX > 249) {
    throw new ValidationError('topic', `"${topic.slice(0, 40)}…" is too long to leave room for its delay topics`);
  }
}

function checkSubscribeOptions(o: SubscribeOptions): Required<Omit<SubscribeOptions, 'group'>> & { group: string } {
  if (!o || typeof o.group !== 'string' || !TOPIC_RE.test(o.group)) {
    throw new ValidationError('group', 'must be a non-empty name of [a-zA-Z0-9._-]');
  }
  const int = (field: string, v: number | undefined, dflt: number, min: number): number => {
    const n = v ?? dflt;
    if (!Number.isInteger(n) || n < min) throw new ValidationError(field, `must be an integer >= ${min}, got ${String(v)}`);
    return n;
  };
  const ordering: Ordering = o.ordering ?? 'key';
  if (!['key', 'partition', 'none'].includes(ordering)) {
    throw new ValidationError('ordering', `must be 'key', 'partition' or 'none', got ${String(o.ordering)}`);
  }
  return {
    group: o.group,
    maxInFlight: int('maxInFlight', o.maxInFlight, 16, 1),
    ackTimeoutMs: int('ackTimeoutMs', o.ackTimeoutMs, 30_000, 1),
    redeliveryDelayMs: int('redeliveryDelayMs', o.redeliveryDelayMs, 1_000, 0),
    ordering,
  };
}

function unavailable(what: string, cause: unknown): JobbusError {
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
  const relayOpts = resolveConsumerOptions({ maxWaitTimeMs: 100, ...options.relay }, consumerOpts);
  const groupIdOf = options.groupId ?? ((group: string, topic: string) => `${group}.${topic}`);
  const relayGroupOf = options.relayGroupId ?? ((delayTopic: string) => `jobbus.relay.${delayTopic}`);
  const inMemoryRedeliveryMaxMs = options.inMemoryRedeliveryMaxMs ?? 5_000;
  const drainTimeoutMs = options.drainTimeoutMs ?? 5_000;
  const logger = options.logger;
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

  const provisioner = createTopicProvisioner(() => admin.get(), {
    autoCreate: options.autoCreateTopics ?? true,
    partitions: options.topics?.partitions ?? 8,
    delayPartitions: options.topics?.delayPartitions ?? options.topics?.partitions ?? 8,
    replicationFactor: options.topics?.replicationFactor ?? -1,
    configs: options.topics?.configs ?? {},
  });

  const subscriptions = new Set<KafkaSubscription>();
  // topic -> relays + number of subscriptions in this process that need them
  const relays = new Map<string, { users: number; relays: Promise<DelayRelay[]> }>();
  // relay sets being stopped after their last subscription closed; close() waits for them
  const relaysStopping = new Set<Promise<void>>();

  const assertOpen = (): void => {
    if (closed) throw new ClosedError('kafka event bus is closed');
  };

  const send = async (topic: string, records: readonly ProduceRecord[]): Promise<void> => {
    let p: ProducerPort;
    try {
      p = await producer.get();
    } catch (err) {
      throw unavailable('cannot connect the producer', err);
    }
    try {
      // Chunks bounded by count and bytes: a relay forwards up to a whole fetch at once, and one
      // partition's record batch must stay under the broker's message.max.bytes (1 MiB default).
      let start = 0;
      let bytes = 0;
      for (let i = 0; i < records.length; i++) {
        bytes += approxSize(records[i]!);
        const last = i === records.length - 1;
        if (last || i + 1 - start >= SEND_CHUNK || bytes >= SEND_CHUNK_BYTES) {
          await p.send(topic, start === 0 && last ? records : records.slice(start, i + 1));
          start = i + 1;
          bytes = 0;
        }
      }
    } catch (err) {
      provisioner.forget(topic); // deleted behind our back? the next publish checks again
      throw unavailable(`publish to "${topic}" failed`, err);
    }
  };

  const publishMany = async (topic: string, messages: readonly Message[], opts?: PublishOptions): Promise<void> => {
    assertOpen();
    checkTopic(topic);
    if (!Array.isArray(messages)) throw new ValidationError('messages', 'must be an array');
    for (const m of messages) {
      if (!m || !(m.value instanceof Uint8Array)) throw new ValidationError('message.value', 'must be a Uint8Array');
    }
    if (messages.length === 0) return;
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
      await provisioner.ensure([{ name: topic }]);
      await send(
        topic,
        messages.map((m) => {
          const headers = encodeHeaders(m.headers ?? {});
          return { key: m.key, value: m.value, headers: early ? { ...headers, [DUE_AT_HEADER]: String(dueMs) } : headers };
        }),
      );
      return;
    }
    const tier = pickTier(tiers, dueMs - now);
    const delayTopic = delayTopicName(topic, tier);
    await provisioner.ensure([{ name: topic }, { name: delayTopic, delay: true }]);
    const due = String(dueMs);
    const target = topic;
    await send(
      delayTopic,
      messages.map((m) => ({
        key: m.key,
        value: m.value,
        headers: { ...encodeHeaders(m.headers ?? {}), [DUE_AT_HEADER]: due, [TARGET_HEADER]: target },
        // The tier clock starts at this timestamp (tiers.ts): set it here, not in the client.
        timestamp: now,
      })),
    );
  };

  const startRelays = (topic: string): Promise<DelayRelay[]> => {
    const entry = relays.get(topic);
    if (entry) {
      entry.users++;
      return entry.relays;
    }
    const started = (async () => {
      await provisioner.ensure([{ name: topic }, ...tiers.map((t) => ({ name: delayTopicName(topic, t), delay: true }))]);
      const list = tiers.map((tier) => {
        const delayTopic = delayTopicName(topic, tier);
        return createDelayRelay({
          delayTopic,
          tier,
          tiers,
          target: topic,
          consumer: client.groupConsumer({ groupId: relayGroupOf(delayTopic), topics: [delayTopic], ...relayOpts }),
          send,
          logger,
        });
      });
      const results = await Promise.allSettled(list.map((r) => r.start()));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) {
        await Promise.allSettled(list.map((r) => r.stop()));
        throw unavailable(`cannot start the delay relays of "${topic}"`, (failed as PromiseRejectedResult).reason);
      }
      return list;
    })();
    const record = { users: 1, relays: started };
    relays.set(topic, record);
    started.catch(() => {
      if (relays.get(topic) === record) relays.delete(topic);
    });
    return started;
  };

  const releaseRelays = async (topic: string): Promise<void> => {
    const entry = relays.get(topic);
    if (!entry) return;
    entry.users--;
    if (entry.users > 0) return;
    relays.delete(topic);
    const stopping = (async () => {
      const list = await entry.relays.catch(() => [] as DelayRelay[]);
      await Promise.allSettled(list.map((r) => r.stop()));
    })();
    relaysStopping.add(stopping);
    await stopping;
    relaysStopping.delete(stopping);
  };

  const bus: KafkaEventBus = {
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
      const o = checkSubscribeOptions(opts);
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
            void releaseRelays(topic);
          },
        });
        subscriptions.add(sub);
        await sub.start();
      } catch (err) {
        if (sub) await sub.close().catch(() => undefined);
        else await releaseRelays(topic);
        throw unavailable(`cannot subscribe to "${topic}" as group "${groupId}"`, err);
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
        throw unavailable('cluster unreachable', err);
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
    },

    close() {
      closing ??= (async () => {
        closed = true;
        await Promise.allSettled([...subscriptions].map((s) => s.close()));
        const relayLists = [...relays.values()].map((r) => r.relays.catch(() => [] as DelayRelay[]));
        relays.clear();
        for (const list of await Promise.all(relayLists)) await Promise.allSettled(list.map((r) => r.stop()));
        await Promise.allSettled([...relaysStopping]);
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

    async browse(topic, limit) {
      assertOpen();
      checkTopic(topic);
      if (!Number.isInteger(limit) || limit < 0) throw new ValidationError('limit', 'must be an integer >= 0');
      if (limit === 0) return [];
      const records = await readNewest(topic, limit);
      return records.map((r) => toBrowsed(topic, r)).slice(0, limit);
    },

    async remove(topic, select) {
      assertOpen();
      checkTopic(topic);
      const records = await readNewest(topic, Number.MAX_SAFE_INTEGER);
      const byPartition = new Map<number, PartitionRecord[]>();
      for (const r of records) {
        const list = byPartition.get(r.partition) ?? [];
        list.push(r);
        byPartition.set(r.partition, list);
      }
      let removed = 0;
      const a = await admin.get().catch((err: unknown) => {
        throw unavailable('cannot connect the admin client', err);
      });
      for (const [partition, list] of byPartition) {
        list.sort((x, y) => x.offset - y.offset);
        let lastSelected = -1;
        const chosen = new Set<number>();
        for (const r of list) {
          if (select(toBrowsed(topic, r))) {
            chosen.add(r.offset);
            lastSelected = r.offset;
          }
        }
        if (lastSelected < 0) continue;
        // Kafka deletes prefixes only: re-append the survivors inside the prefix first, then cut.
        const survivors = list.filter((r) => r.offset < lastSelected && !chosen.has(r.offset));
        if (survivors.length) {
          await send(
            topic,
            survivors.map((r) => ({ key: decodeKey(r.key), value: toBytes(r.value), headers: rawHeaders(r.headers), timestamp: r.timestamp })),
          );
        }
        try {
          await a.deleteRecords(topic, partition, lastSelected + 1);
        } catch (err) {
          throw unavailable(`cannot delete records of "${topic}" partition ${partition}`, err);
        }
        removed += chosen.size;
      }
      return removed;
    },
  };

  /** The newest `limit` records of every partition, newest first overall. */
  async function readNewest(topic: string, limit: number): Promise<PartitionRecord[]> {
    let a: AdminPort;
    try {
      a = await admin.get();
      const existing = await a.listTopics();
      if (!existing.includes(topic)) return [];
      const offsets = await a.topicOffsets(topic);
      const ranges = offsets
        .map((o) => ({ partition: o.partition, from: Math.max(o.low, o.high - limit), to: o.high }))
        .filter((r) => r.to > r.from);
      const records = await client.readRanges(topic, ranges, BROWSE_TIMEOUT_MS);
      return records.sort((x, y) => y.timestamp - x.timestamp || y.offset - x.offset);
    } catch (err) {
      throw unavailable(`cannot read "${topic}"`, err);
    }
  }
  return bus;
}
