/**
 * The {@link KafkaClientPort} over kafkajs 2.2.x. The only file of jobbus that touches kafkajs;
 * kafkajs is an optional peer dependency, loaded with a dynamic import by {@link loadKafkaJsDriver}.
 */
import { randomUUID } from 'node:crypto';
import type * as KafkaJs from 'kafkajs';
import { NotInitializedError, UnavailableError } from '../../jobs/errors.js';
import { setHeader } from '../header-record.js';
import type {
  AdminPort,
  CommitOffset,
  CommittedOffset,
  ConsumedRecord,
  GroupConsumerPort,
  GroupConsumerSettings,
  GroupHandlers,
  KafkaClientPort,
  OffsetRange,
  PartitionRecord,
  ProducerPort,
} from './port.js';
import type { KafkaBusLogger } from './options.js';

/** Connection settings of the kafkajs driver. */
export interface KafkaJsDriverOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl?: boolean;
  readonly sasl?: {
    readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    readonly username: string;
    readonly password: string;
  };
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Idempotent producer (kafkajs `idempotent: true`, one request in flight per broker). */
  readonly idempotent: boolean;
  readonly logger?: KafkaBusLogger;
}

type KafkaJsModule = typeof KafkaJs;

/** Load kafkajs and build the driver; a clear error when the optional peer dependency is missing. */
export async function loadKafkaJsDriver(options: KafkaJsDriverOptions): Promise<KafkaClientPort> {
  let mod: KafkaJsModule;
  try {
    const imported = (await import('kafkajs')) as KafkaJsModule & { default?: KafkaJsModule };
    mod = imported.Kafka ? imported : (imported.default as KafkaJsModule);
  } catch (cause) {
    // Not retryable: a missing dependency does not appear by waiting.
    throw new NotInitializedError(
      'jobbus/kafka needs the optional peer dependency "kafkajs" (^2.2.4): install it with `npm install kafkajs`',
      { cause },
    );
  }
  return createKafkaJsDriver(mod, options);
}

function toLogCreator(mod: KafkaJsModule, logger: KafkaBusLogger): KafkaJs.logCreator {
  return () => (entry) => {
    const { message, ...extra } = entry.log;
    const obj = { kafkajs: entry.namespace, ...extra };
    switch (entry.level) {
      case mod.logLevel.ERROR:
        logger.error(obj, message);
        break;
      case mod.logLevel.WARN:
        logger.warn(obj, message);
        break;
      default:
        logger.debug?.(obj, message);
    }
  };
}

function createKafkaJsDriver(mod: KafkaJsModule, options: KafkaJsDriverOptions): KafkaClientPort {
  const config: KafkaJs.KafkaConfig = {
    clientId: options.clientId,
    brokers: [...options.brokers],
    connectionTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    logLevel: options.logger ? mod.logLevel.WARN : mod.logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 5_000 },
  };
  if (options.logger) config.logCreator = toLogCreator(mod, options.logger);
  if (options.ssl) config.ssl = true;
  if (options.sasl) config.sasl = { ...options.sasl } as KafkaJs.SASLOptions;
  const kafka = new mod.Kafka(config);

  return {
    async producer(): Promise<ProducerPort> {
      const producer = kafka.producer({
        // Java-compatible murmur2 over the key (kafkajs 2's default; named to silence its warning).
        createPartitioner: mod.Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        idempotent: options.idempotent,
        ...(options.idempotent ? { maxInFlightRequests: 1 } : {}),
      });
      await producer.connect();
      return {
        async send(topic, records) {
          await producer.send({
            topic,
            acks: -1,
            timeout: options.requestTimeoutMs,
            messages: records.map((r) => ({
              key: r.key ?? null,
              value: Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength),
              headers: toBufferHeaders(r.headers),
              ...(r.timestamp !== undefined ? { timestamp: String(r.timestamp) } : {}),
            })),
          });
        },
        disconnect: () => producer.disconnect(),
      };
    },

    async admin(): Promise<AdminPort> {
      const admin = kafka.admin();
      await admin.connect();
      return {
        async describeCluster() {
          const c = await admin.describeCluster();
          return { clusterId: c.clusterId, brokers: c.brokers.length, controller: c.controller };
        },
        listTopics: () => admin.listTopics(),
        async createTopics(specs) {
          // kafkajs's own leader wait (waitForLeaders) gives up on the first
          // UNKNOWN_TOPIC_OR_PARTITION, which a KRaft broker answers for a moment after the
          // create; wait for the leaders ourselves and treat that answer as "not yet".
          await admin.createTopics({
            waitForLeaders: false,
            topics: specs.map((s) => ({
              topic: s.topic,
              numPartitions: s.partitions,
              replicationFactor: s.replicationFactor,
              configEntries: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
            })),
          });
          await waitForLeaders(admin, specs.map((s) => s.topic), Math.max(options.requestTimeoutMs, 10_000));
        },
        async topicOffsets(topic) {
          let offsets: Awaited<ReturnType<KafkaJs.Admin['fetchTopicOffsets']>> = [];
          await untilSettled(`the offsets of topic ${topic} could not be read`, Math.max(options.requestTimeoutMs, 10_000), async () => {
            offsets = await admin.fetchTopicOffsets(topic);
            return true;
          });
          return offsets.map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) }));
        },
        async deleteRecords(topic, partition, beforeOffset) {
          await admin.deleteTopicRecords({ topic, partitions: [{ partition, offset: String(beforeOffset) }] });
        },
        disconnect: () => admin.disconnect(),
      };
    },

    groupConsumer(settings) {
      return createGroupConsumer(kafka, settings, options.logger);
    },

    readRanges(topic, ranges, timeoutMs) {
      return readRanges(kafka, topic, ranges, timeoutMs);
    },
  };
}

/** Kafka error types that mean "the topic's metadata has not settled yet". */
const METADATA_SETTLING = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION', 'NOT_LEADER_OR_FOLLOWER']);

/**
 * Run `attempt` until it returns true, treating the errors of a topic whose metadata has not
 * settled yet as "not yet"; any other error is thrown at once.
 */
async function untilSettled(what: string, timeoutMs: number, attempt: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await attempt()) return;
      last = undefined;
    } catch (e) {
      const type = (e as { type?: unknown }).type;
      if (typeof type !== 'string' || !METADATA_SETTLING.has(type)) throw e;
      last = e;
    }
    if (Date.now() >= deadline) throw new UnavailableError(`kafka: ${what} within ${timeoutMs} ms`, { cause: last });
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Wait until every partition of `topics` has a leader that answers: the metadata can name a
 * leader a moment before that broker serves the partition (NOT_LEADER_OR_FOLLOWER), so the
 * wait ends with a successful offsets request per topic.
 */
async function waitForLeaders(admin: KafkaJs.Admin, topics: readonly string[], timeoutMs: number): Promise<void> {
  await untilSettled(`topics ${topics.join(', ')} got no serving leader after creation`, timeoutMs, async () => {
    const { topics: meta } = await admin.fetchTopicMetadata({ topics: [...topics] });
    const led = topics.every((name) => {
      const t = meta.find((m) => m.name === name);
      return t !== undefined && t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0);
    });
    if (!led) return false;
    for (const name of topics) await admin.fetchTopicOffsets(name);
    return true;
  });
}

/**
 * kafkajs has no group-less consumer: browse with a throwaway group (never committed, deleted
 * afterwards), seeking each partition to its range start once assigned.
 */
async function readRanges(
  kafka: KafkaJs.Kafka,
  topic: string,
  ranges: readonly OffsetRange[],
  timeoutMs: number,
): Promise<PartitionRecord[]> {
  const todo = new Map<number, OffsetRange>();
  for (const r of ranges) if (r.to > r.from) todo.set(r.partition, r);
  if (!todo.size) return [];
  const groupId = `jobbus.browse.${topic}.${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
  const out: PartitionRecord[] = [];
  const pending = new Set(todo.keys());
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const timer = setTimeout(() => fail(new UnavailableError(`kafka: reading "${topic}" took longer than ${timeoutMs} ms`)), timeoutMs);
  try {
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const r of todo.values()) consumer.seek({ topic, partition: r.partition, offset: String(r.from) });
    });
    consumer.on(consumer.events.CRASH, (e) => fail(e.payload.error));
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const range = todo.get(batch.partition);
        if (!range || !pending.has(batch.partition)) return;
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          if (offset < range.from) continue;
          if (offset >= range.to) break;
          out.push({ ...toRecord(m), partition: batch.partition });
        }
        // lastOffset() counts filtered control records too, so a range ending in a transaction
        // marker still completes.
        if (Number(batch.lastOffset()) >= range.to - 1) {
          pending.delete(batch.partition);
          if (!pending.size) finish();
        }
      },
    });
    await done;
    return out;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteGroups([groupId]))
      .catch(() => undefined)
      .finally(() => admin.disconnect().catch(() => undefined));
  }
}

// kafkajs writes only real Buffers as bytes (anything else goes through String(), which is
// right for strings and wrong for a plain Uint8Array).
function toBufferHeaders(headers: Readonly<Record<string, string | Uint8Array>>): Record<string, string | Buffer> {
  let out: Record<string, string | Buffer> | undefined;
  for (const k in headers) {
    const v = headers[k]!;
    if (typeof v === 'string' || Buffer.isBuffer(v)) continue;
    out ??= { ...(headers as Record<string, string | Buffer>) };
    setHeader(out, k, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  }
  return out ?? (headers as Record<string, string | Buffer>);
}

function toRecord(m: KafkaJs.KafkaMessage): ConsumedRecord {
  return {
    offset: Number(m.offset),
    key: m.key,
    value: m.value,
    headers: m.headers,
    timestamp: Number(m.timestamp),
  };
}

function createGroupConsumer(kafka: KafkaJs.Kafka, settings: GroupConsumerSettings, logger: KafkaBusLogger | undefined): GroupConsumerPort {
  const consumer = kafka.consumer({
    groupId: settings.groupId,
    sessionTimeout: settings.sessionTimeoutMs,
    rebalanceTimeout: settings.rebalanceTimeoutMs,
    heartbeatInterval: settings.heartbeatIntervalMs,
    maxWaitTimeInMs: settings.maxWaitTimeMs,
    maxBytesPerPartition: settings.maxBytesPerPartition,
    allowAutoTopicCreation: false,
  });
  let generation = 0;
  // kafkajs offers a retry-free commit (one request) only through the eachBatch payload;
  // consumer.commitOffsets() retries for a while. The latest payload's commit function is kept
  // and used for every commit. It does NOT pin a generation: kafkajs replaces its offset manager
  // (with the new generation) on every group sync, so a commit issued after a rejoin carries the
  // new generation. What keeps a member from committing a partition it no longer owns is the
  // subscription: it commits a partition only while it is assigned to it, or, during a
  // rebalance, only from the awaited revoke hook, which runs before kafkajs rejoins.
  let commitFn: ((offsets: KafkaJs.Offsets) => Promise<void>) | undefined;
  let stopped = false;
  // The group's committed offsets are read through an admin client (kafkajs exposes no
  // offset-fetch on the consumer); connected on first use, disconnected by stop().
  let admin: Promise<KafkaJs.Admin> | undefined;
  const getAdmin = (): Promise<KafkaJs.Admin> => {
    admin ??= (async () => {
      const a = kafka.admin();
      await a.connect();
      return a;
    })().catch((err: unknown) => {
      admin = undefined;
      throw err;
    });
    return admin;
  };
  // pause/resume throw "Consumer group was not initialized" while kafkajs is between a crash and
  // its restart (its consumerGroup is null then). Nothing is fetched in that window anyway, and
  // the caller resumes what it wants on the next assignment, so ignore it.
  const safely = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      logger?.debug?.({ groupId: settings.groupId, err: err instanceof Error ? err.message : String(err) }, `kafka: ${what} ignored, the consumer is not running`);
    }
  };

  return {
    async start(handlers: GroupHandlers) {
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        const assignment = new Map<string, number[]>();
        for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
          assignment.set(topic, [...(partitions as number[])]);
        }
        generation++;
        handlers.onAssigned(assignment, generation);
      });
      consumer.on(consumer.events.REBALANCING, () => handlers.onRebalancing());
      consumer.on(consumer.events.CRASH, (event) => {
        commitFn = undefined;
        handlers.onCrash(event.payload.error, event.payload.restart === true);
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [...settings.topics], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: settings.partitionsConcurrently,
        eachBatch: async (payload) => {
          commitFn = payload.commitOffsetsIfNecessary;
          const { batch } = payload;
          await handlers.onBatch(
            { topic: batch.topic, partition: batch.partition, records: batch.messages.map(toRecord) },
            {
              advance: (offset) => payload.resolveOffset(String(offset)),
              heartbeat: async () => {
                try {
                  await payload.heartbeat();
                } catch (err) {
                  // kafkajs rejoins as soon as this error leaves eachBatch; until then the group
                  // waits for us (up to the rebalance timeout) and commits of this generation
                  // are still accepted: the one moment to drain and commit before revocation.
                  if ((err as { type?: string }).type === 'REBALANCE_IN_PROGRESS') await handlers.onRevoke?.();
                  throw err;
                }
              },
              isActive: () => !stopped && payload.isRunning() && !payload.isStale(),
            },
          );
        },
      });
    },
    pause(topic, partitions) {
      safely('pause', () => consumer.pause([partitions ? { topic, partitions: [...partitions] } : { topic }]));
    },
    resume(topic, partitions) {
      safely('resume', () => consumer.resume([partitions ? { topic, partitions: [...partitions] } : { topic }]));
    },
    async commit(offsets: readonly CommitOffset[]) {
      if (!commitFn) throw new UnavailableError(`group ${settings.groupId}: no batch fetched yet, nothing can be committed`);
      const byTopic = new Map<string, { partition: number; offset: string; metadata?: string }[]>();
      for (const o of offsets) {
        const list = byTopic.get(o.topic) ?? [];
        // kafkajs passes each partition entry to the OffsetCommit request as is, metadata included.
        list.push({ partition: o.partition, offset: String(o.offset), ...(o.metadata ? { metadata: o.metadata } : {}) });
        byTopic.set(o.topic, list);
      }
      try {
        await commitFn({ topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) });
      } catch (err) {
        if ((err as { type?: unknown }).type === 'OFFSET_METADATA_TOO_LARGE') {
          throw Object.assign(new UnavailableError(`group ${settings.groupId}: the broker refused the commit metadata as too large`, { cause: err }), {
            metadataTooLarge: true,
          });
        }
        throw err;
      }
    },
    async committed(topic) {
      const a = await getAdmin();
      const result = await a.fetchOffsets({ groupId: settings.groupId, topics: [topic] });
      const out: CommittedOffset[] = [];
      for (const t of result) {
        if (t.topic !== topic) continue;
        for (const p of t.partitions) out.push({ partition: p.partition, offset: Number(p.offset), metadata: p.metadata ?? '' });
      }
      return out;
    },
    async stop() {
      stopped = true;
      try {
        await consumer.disconnect();
      } finally {
        const a = admin;
        admin = undefined;
        await a?.then((x) => x.disconnect()).catch(() => undefined);
      }
    },
  };
}
