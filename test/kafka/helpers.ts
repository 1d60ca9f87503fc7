/**
 * Helpers of the Kafka integration tests: a bus with small group timeouts, poll-until, a plain
 * kafkajs client for admin/interop, and per-test topic cleanup.
 */
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { createKafkaEventBus, type KafkaEventBus, type KafkaEventBusOptions } from '../../src/eventbus/kafka/index.js';
import type { Message } from '../../src/eventbus/types.js';
import { kafkaBrokers, uniqueName } from '../setup/env.js';
import { testDriver } from './driver.js';

export { uniqueName };
export { loadTestDriver, testDriver } from './driver.js';

/** Options for fast tests: short sessions/heartbeats, short delay tiers, 2 partitions, the test driver. */
export function fastOptions(extra: Partial<KafkaEventBusOptions> = {}): KafkaEventBusOptions {
  return {
    driver: testDriver(),
    brokers: kafkaBrokers(),
    clientId: 'jobbus-test',
    topics: { partitions: 2, replicationFactor: 1 },
    delayTiersMs: [500, 2_000, 5_000],
    consumer: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 10_000, maxWaitTimeMs: 100 },
    drainTimeoutMs: 2_000,
    ...extra,
  };
}

const buses = new Set<KafkaEventBus>();
const topics = new Set<string>();

/** A bus closed by {@link cleanup}. */
export async function makeBus(extra: Partial<KafkaEventBusOptions> = {}): Promise<KafkaEventBus> {
  const bus = await createKafkaEventBus(fastOptions(extra));
  buses.add(bus);
  return bus;
}

/** A unique topic name, deleted (with its delay and DLQ topics) by {@link cleanup}. */
export function topicName(prefix: string): string {
  const t = uniqueName(`kt-${prefix}`);
  topics.add(t);
  return t;
}

let plain: Kafka | undefined;
/** A plain kafkajs client (admin, interop producers). */
export function plainKafka(): Kafka {
  plain ??= new Kafka({ clientId: 'jobbus-test-plain', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  return plain;
}

/**
 * Send with a plain kafkajs producer, retrying a few times: a fresh kafkajs client can see
 * UNKNOWN_TOPIC_OR_PARTITION in its first metadata request for a topic created a moment ago
 * (seen once in ~20 runs); that race belongs to the plain client, not to the bus under test.
 */
export async function plainSend(record: Parameters<Producer['send']>[0]): Promise<void> {
  const producer = plainKafka().producer();
  await producer.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await producer.send(record);
        return;
      } catch (err) {
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  } finally {
    await producer.disconnect();
  }
}

/** Close every bus made here and delete the test topics. */
export async function cleanup(): Promise<void> {
  await Promise.allSettled([...buses].map((b) => b.close()));
  buses.clear();
  if (!topics.size) return;
  const admin: Admin = plainKafka().admin();
  await admin.connect();
  try {
    const all = await admin.listTopics();
    const mine = all.filter((t) => [...topics].some((p) => t === p || t.startsWith(`${p}.`)));
    if (mine.length) await admin.deleteTopics({ topics: mine, timeout: 10_000 }).catch(() => undefined);
  } finally {
    topics.clear();
    await admin.disconnect();
  }
}

/** Poll `check` until it returns true (or a value), failing after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A message with a text value and headers. */
export function msg(value: string, key?: string, headers: Record<string, string> = {}): Message {
  return { ...(key !== undefined ? { key } : {}), value: new TextEncoder().encode(value), headers };
}

/** The text of a message value. */
export function text(m: Message): string {
  return new TextDecoder().decode(m.value);
}

/** Resolves after `ms` — only for letting time pass in a test's scenario, never to synchronize. */
export const elapse = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
