/**
 * The {@link KafkaClientPort} over kafkajs 2.2.x. With kafkajs-group-consumer.ts, the only code of jobbus that touches kafkajs;
 * kafkajs is an optional peer dependency, loaded with a dynamic import by {@link loadKafkaJsDriver}.
 */
import { randomUUID } from 'node:crypto';
import type * as KafkaJs from 'kafkajs';
import { NotInitializedError, UnavailableError } from '../../errors.js';
import { setHeader } from '../header-record.js';
import { guardIdempotentProducer, type MultiTopicProducer } from './idempotent-producer.js';
import { stringKeyHash } from './murmur2.js';
import { createGroupConsumer, toRecord, type SharedAdmin } from './kafkajs-group-consumer.js';
import { untilSettled, type DriverErrors } from './settling.js';
import type { AdminPort, DriverOptions, KafkaClientPort, OffsetRange, PartitionRecord, ProduceRecord, ProducerPort } from './port.js';
import type { KafkaBusLogger } from './options.js';

/** Connection settings of the kafkajs driver (idempotent: kafkajs `idempotent: true`, one request in flight per broker). */
export type KafkaJsDriverOptions = DriverOptions;

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
  if (options.ssl === true) config.ssl = true;
  else if (options.ssl) {
    const { ca, ...rest } = options.ssl;
    config.ssl = { ...rest, ...(ca !== undefined ? { ca: typeof ca === 'string' || Buffer.isBuffer(ca) ? ca : [...ca] } : {}) };
  }
  if (options.sasl) config.sasl = { ...options.sasl } as KafkaJs.SASLOptions;
  const kafka = new mod.Kafka(config);

  // One admin connection per driver, shared by the bus's AdminPort and the group consumers'
  // committed-offset reads: a subscription reads its group's offsets when it starts, and a
  // connection the bus already opened (topics) answers in one or two round trips instead of a
  // connect, a metadata request and a coordinator lookup first (~100 ms under load).
  let shared: { admin: Promise<KafkaJs.Admin>; users: number } | undefined;
  const acquireAdmin = (): SharedAdmin => {
    if (!shared) {
      const a = kafka.admin();
      const entry: { admin: Promise<KafkaJs.Admin>; users: number } = { admin: a.connect().then(() => a), users: 0 };
      entry.admin.catch(() => {
        if (shared === entry) shared = undefined; // the next user connects again
      });
      shared = entry;
    }
    const entry = shared;
    entry.users++;
    let released = false;
    return {
      admin: entry.admin,
      async release() {
        if (released) return;
        released = true;
        if (--entry.users > 0) return;
        if (shared === entry) shared = undefined;
        await entry.admin.then((a) => a.disconnect()).catch(() => undefined);
      },
    };
  };

  return {
    async producer(): Promise<ProducerPort> {
      const open = (): Promise<MultiTopicProducer> => connectProducer(mod, kafka, options);
      return options.idempotent ? guardIdempotentProducer(await open(), open) : open();
    },

    async admin(): Promise<AdminPort> {
      const held = acquireAdmin();
      let admin: KafkaJs.Admin;
      try {
        admin = await held.admin;
      } catch (err) {
        void held.release();
        throw err;
      }
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
          await untilSettled(`the offsets of topic ${topic} could not be read`, Math.max(options.requestTimeoutMs, 10_000), KAFKAJS_ERRORS, async () => {
            try {
              offsets = await admin.fetchTopicOffsets(topic);
            } catch (e) {
              // kafkajs throws a TypeError ("low.pop(...) is undefined") when its cached metadata lacks
              // the topic's partitions, e.g. a concurrent refresh overwrote it: not yet, read again.
              if (e instanceof TypeError) return false;
              throw e;
            }
            return true;
          });
          return offsets.map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) }));
        },
        async deleteRecords(topic, partition, beforeOffset) {
          await admin.deleteTopicRecords({ topic, partitions: [{ partition, offset: String(beforeOffset) }] });
        },
        async groupOffsets(groupId, topic) {
          const result = await admin.fetchOffsets({ groupId, topics: [topic] });
          return result
            .filter((t) => t.topic === topic)
            .flatMap((t) => t.partitions.map((p) => ({ partition: p.partition, offset: Number(p.offset), metadata: p.metadata ?? '' })));
        },
        disconnect: () => held.release(),
      };
    },

    groupConsumer(settings) {
      return createGroupConsumer(kafka, settings, options.logger, acquireAdmin);
    },

    readRanges(topic, ranges, timeoutMs) {
      return readRanges(kafka, topic, ranges, timeoutMs);
    },
  };
}

/** A connected kafkajs producer behind the port (acks = all). */
async function connectProducer(mod: KafkaJsModule, kafka: KafkaJs.Kafka, options: KafkaJsDriverOptions): Promise<MultiTopicProducer> {
  const producer = kafka.producer({
    // Java-compatible murmur2 over the key (kafkajs 2's default), computed in 32-bit arithmetic.
    createPartitioner: () => keyedPartitioner(mod.Partitioners.DefaultPartitioner()),
    allowAutoTopicCreation: false,
    idempotent: options.idempotent,
    ...(options.idempotent ? { maxInFlightRequests: 1 } : {}),
  });
  await producer.connect();
  return {
    async send(topic, records) {
      await producer.send({ topic, acks: -1, timeout: options.requestTimeoutMs, messages: records.map(toKafkaJsMessage) });
    },
    async sendBatches(batches) {
      const topicMessages = batches.map(({ topic, records }) => ({ topic, messages: records.map(toKafkaJsMessage) }));
      await producer.sendBatch({ topicMessages, acks: -1, timeout: options.requestTimeoutMs });
    },
    disconnect: () => producer.disconnect(),
  };
}

/** A record as kafkajs sends it. */
function toKafkaJsMessage(r: ProduceRecord): KafkaJs.Message {
  return {
    key: r.key ?? null,
    value: Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength),
    headers: toBufferHeaders(r.headers),
    ...(r.timestamp !== undefined ? { timestamp: String(r.timestamp) } : {}),
  };
}

/**
 * kafkajs' DefaultPartitioner with the keyed case computed here: the same partition
 * (`toPositive(murmur2(key)) % partitions`, over all partitions as kafkajs does), without its
 * long.js arithmetic and its per-message filtering of the partition list. Keyless messages and
 * explicit partitions go to kafkajs' own (its round-robin state stays its own).
 */
function keyedPartitioner(fallback: (args: KafkaJs.PartitionerArgs) => number): (args: KafkaJs.PartitionerArgs) => number {
  return (args) => {
    const { message, partitionMetadata } = args;
    if ((message.partition === null || message.partition === undefined) && typeof message.key === 'string' && partitionMetadata.length > 0) {
      return stringKeyHash(message.key) % partitionMetadata.length;
    }
    return fallback(args);
  };
}

/** kafkajs errors carry their Kafka error name as `type`. */
const KAFKAJS_ERRORS: DriverErrors = {
  names: (err) => {
    const type = (err as { type?: unknown } | null)?.type;
    return typeof type === 'string' ? [type] : [];
  },
  normalize: (err) => err,
};

/**
 * Wait until every partition of `topics` has a leader that answers: the metadata can name a
 * leader a moment before that broker serves the partition (NOT_LEADER_OR_FOLLOWER), so the
 * wait ends with a successful offsets request per topic.
 */
async function waitForLeaders(admin: KafkaJs.Admin, topics: readonly string[], timeoutMs: number): Promise<void> {
  await untilSettled(`topics ${topics.join(', ')} got no serving leader after creation`, timeoutMs, KAFKAJS_ERRORS, async () => {
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
