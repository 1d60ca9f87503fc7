/**
 * The raw-driver legs on Kafka: the encoded jobs (value + `job_*` headers, built before the
 * clock starts) produced in batches of 500 with acks = all to an 8-partition topic and consumed
 * by one group consumer of the plain client library, kafkajs or `@platformatic/kafka`. One warm
 * message goes through first (topic leaders, group join), then the clock runs from the first
 * send to the last message consumed. Also the topic bookkeeping every Kafka benchmark here
 * uses: fresh names, creation with a leader wait, deletion at the end.
 */
import { Kafka, logLevel, Partitioners, type Admin } from 'kafkajs';
import { waitFor } from '../../src/testing/wait.js';
import { until } from '../lib.js';
import { batches, encodedJobs, ratePerSecond } from './shared.js';

/** A connected kafkajs admin and the topics this run created (deleted by {@link KafkaTopics.cleanup}). */
export interface KafkaTopics {
  readonly brokers: readonly string[];
  readonly kafka: Kafka;
  readonly admin: Admin;
  /** A fresh topic name `bench-<what>-…`, remembered for cleanup (with its `<name>.*` companions). */
  name(what: string): string;
  /** Create `topic` with `partitions` and wait until every partition has a serving leader. */
  create(topic: string, partitions: number): Promise<void>;
  /** Delete every topic this run named (and the bus's `<name>.*` and `*.<name>` companions), then disconnect. */
  cleanup(): Promise<void>;
}

/** Topic bookkeeping on `brokers` (connects a kafkajs admin). */
export async function kafkaTopics(brokers: readonly string[]): Promise<KafkaTopics> {
  const kafka = new Kafka({ clientId: 'jobbus-bench-raw', brokers: [...brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const named: string[] = [];
  let seq = 0;
  return {
    brokers,
    kafka,
    admin,
    name(what) {
      const t = `bench-${what}-${Date.now().toString(36)}-${seq++}`;
      named.push(t);
      return t;
    },
    async create(topic, partitions) {
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: false });
      // kafkajs's leader wait gives up on KRaft's transient UNKNOWN_TOPIC_OR_PARTITION: poll.
      await waitFor(async () => (await admin.fetchTopicOffsets(topic)).length === partitions, `topic ${topic} to get serving leaders`, 30_000, 100);
    },
    async cleanup() {
      const existing = await admin.listTopics();
      // `<name>.*`: a queue's delay and DLQ topics; `*.<name>`: a group's control topic (jobbus.control.<group>).
      const mine = existing.filter((t) => named.some((c) => t === c || t.startsWith(`${c}.`) || t.endsWith(`.${c}`)));
      if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
      await admin.disconnect();
    },
  };
}

/** Raw kafkajs: the default partitioner, eachBatch over 8 partitions at once; msgs/s. */
export async function rawKafkajs(topics: KafkaTopics, n: number, partitions = 8): Promise<number> {
  const topic = topics.name('raw-kafkajs');
  await topics.create(topic, partitions);
  const messages = encodedJobs(topic, n).map((m) => {
    const headers: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(m.headers)) headers[k] = Buffer.from(v);
    return { key: m.key ?? null, value: Buffer.from(m.value), headers };
  });
  const producer = topics.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = topics.kafka.consumer({ groupId: `${topic}-g`, maxWaitTimeInMs: 100 });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let consumed = 0;
  let last = 0;
  await consumer.run({
    partitionsConsumedConcurrently: partitions,
    eachBatch: async ({ batch, resolveOffset }) => {
      for (const m of batch.messages) {
        resolveOffset(m.offset);
        if (++consumed === n + 1) last = performance.now();
      }
    },
  });
  try {
    await producer.send({ topic, acks: -1, messages: [{ value: Buffer.from('warm') }] });
    await until(() => consumed >= 1, 60_000, 'the raw kafkajs warm-up message');
    const t0 = performance.now();
    for (const b of batches(messages)) await producer.send({ topic, acks: -1, messages: b });
    await until(() => consumed >= n + 1, 300_000, 'all raw kafkajs messages');
    return ratePerSecond(n, t0, last);
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
  }
}

/** Whether `@platformatic/kafka` can be loaded here (an optional peer dependency). */
export async function platformaticAvailable(): Promise<boolean> {
  try {
    await import('@platformatic/kafka');
    return true;
  } catch {
    return false;
  }
}

/**
 * Raw `@platformatic/kafka`: bytes in and out (no serialisers), the jobs' keys and headers as
 * bytes built before the clock, records spread over the partitions round-robin (cheaper than
 * hashing the keys, so this stays the ceiling; jobbus hashes them with murmur2), a consumer
 * stream from the earliest offset with autocommit; msgs/s.
 */
export async function rawPlatformatic(topics: KafkaTopics, n: number, partitions = 8): Promise<number> {
  const plt = await import('@platformatic/kafka');
  const topic = topics.name('raw-plt');
  await topics.create(topic, partitions);
  const messages = encodedJobs(topic, n).map((m) => {
    const headers = new Map<Buffer, Buffer>();
    for (const [k, v] of Object.entries(m.headers)) headers.set(Buffer.from(k), Buffer.from(v));
    return { topic, ...(m.key !== undefined && { key: Buffer.from(m.key) }), value: Buffer.from(m.value), headers };
  });
  const connection = { clientId: 'jobbus-bench-raw-plt', bootstrapBrokers: [...topics.brokers] };
  let next = 0;
  const producer = new plt.Producer({ ...connection, acks: plt.ProduceAcks.ALL, autocreateTopics: false, partitioner: () => next++ & 0x7fffffff });
  const consumer = new plt.Consumer({ ...connection, groupId: `${topic}-g`, maxWaitTime: 100 });
  let consumed = 0;
  let last = 0;
  const stream = await consumer.consume({ topics: [topic], mode: plt.MessagesStreamModes.EARLIEST, autocommit: 500 });
  stream.on('data', () => {
    if (++consumed === n + 1) last = performance.now();
  });
  try {
    await producer.send({ messages: [{ topic, value: Buffer.from('warm') }] });
    await until(() => consumed >= 1, 60_000, 'the raw platformatic warm-up message');
    const t0 = performance.now();
    for (const b of batches(messages)) await producer.send({ messages: b });
    await until(() => consumed >= n + 1, 300_000, 'all raw platformatic messages');
    return ratePerSecond(n, t0, last);
  } finally {
    await stream.close().catch(() => undefined);
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
    await producer.close().catch(() => undefined);
  }
}
