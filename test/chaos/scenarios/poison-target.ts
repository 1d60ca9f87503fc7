/**
 * The bus under a poison or fuzz run, and a way to put messages on it *under* the jobs bridge:
 * through the bus's own `publish` when the message is plain strings, else through the broker's
 * own protocol (a kafkajs producer with Buffer headers and keys; raw NATS HPUB) so that header
 * bytes and keys that are not UTF-8 reach the broker as a foreign producer would send them.
 */
import { randomBytes } from 'node:crypto';
import { setHeader } from '../../../src/eventbus/header-record.js';
import type { BrowsableBus, EventBus, Message } from '../../../src/eventbus/types.js';
import { connectRawNats, type RawHeader, type RawNatsPublisher } from './poison-nats-raw.js';

export type { RawHeader };

/** Which bus a poison or fuzz run uses, with the addresses it needs. */
export type PoisonTarget =
  | { readonly kind: 'memory' }
  | { readonly kind: 'kafka'; readonly brokers: readonly string[] }
  | { readonly kind: 'nats'; readonly servers: string };

/** A message as a foreign producer may write it: header values and the key may be raw bytes. */
export interface RawMessage {
  readonly key?: string | Uint8Array;
  readonly value: Uint8Array;
  readonly headers: readonly RawHeader[];
}

/** A bus with its raw publisher, names and clean-up. */
export interface PoisonRig {
  readonly target: PoisonTarget['kind'];
  readonly bus: EventBus & BrowsableBus;
  /** The broker's size limit as the bus reports it (the memory bus is given NATS's default). */
  readonly maxBytes: number;
  /** False on the memory bus: its messages are JavaScript strings, there are no bytes to get wrong. */
  readonly carriesBytes: boolean;
  /** A queue name unique to this rig (deleted by {@link PoisonRig.close}). */
  queueName(label: string): string;
  /** Publish under the bridge; resolves once the broker stored the message. */
  publishRaw(topic: string, message: RawMessage): Promise<void>;
  /** Close the bus and the raw clients, delete the rig's topics or streams. */
  close(): Promise<void>;
}

/** NATS's default max_payload, given to the memory bus so that "near the limit" means the same. */
const MEMORY_MAX_BYTES = 1_048_576;

function hasBytes(m: RawMessage): boolean {
  return m.key instanceof Uint8Array || m.headers.some(([, v]) => v instanceof Uint8Array);
}

/** The bus form of an all-string raw message. */
function asMessage(m: RawMessage): Message {
  const headers: Record<string, string> = {};
  for (const [k, v] of m.headers) setHeader(headers, k, typeof v === 'string' ? v : Buffer.from(v).toString('utf8'));
  const key = m.key instanceof Uint8Array ? Buffer.from(m.key).toString('utf8') : m.key;
  return { ...(key !== undefined && { key }), value: m.value, headers };
}

/** Open a rig on `target`. */
export async function openRig(target: PoisonTarget): Promise<PoisonRig> {
  const prefix = `poison-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  let n = 0;
  const queueName = (label: string): string => `${prefix}-${label}-${++n}`;

  if (target.kind === 'memory') {
    const { createMemoryEventBus } = await import('../../../src/eventbus/memory/index.js');
    const bus = createMemoryEventBus({ maxMessageBytes: MEMORY_MAX_BYTES });
    return {
      target: 'memory',
      bus,
      maxBytes: MEMORY_MAX_BYTES,
      carriesBytes: false,
      queueName,
      async publishRaw(topic, m) {
        if (hasBytes(m)) throw new Error('the memory bus carries strings: a raw-bytes message cannot be expressed on it');
        await bus.publish(topic, asMessage(m));
      },
      close: () => bus.close(),
    };
  }

  if (target.kind === 'kafka') {
    const { createKafkaEventBus } = await import('../../../src/eventbus/kafka/index.js');
    const { Kafka, logLevel } = await import('kafkajs');
    const { testDriver } = await import('../../kafka/driver.js');
    const bus = await createKafkaEventBus({
      driver: testDriver(),
      brokers: target.brokers,
      clientId: 'jobbus-chaos-poison',
      topics: { partitions: 2, replicationFactor: 1 },
      delayTiersMs: [500, 2_000, 5_000],
      consumer: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 10_000, maxWaitTimeMs: 100 },
      drainTimeoutMs: 2_000,
    });
    const kafka = new Kafka({ clientId: 'jobbus-chaos-poison-raw', brokers: [...target.brokers], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    return {
      target: 'kafka',
      bus,
      maxBytes: bus.maxMessageBytes ?? 1_000_000,
      carriesBytes: true,
      queueName,
      async publishRaw(topic, m) {
        const headers: Record<string, Buffer | string> = {};
        for (const [k, v] of m.headers) setHeader(headers, k, typeof v === 'string' ? v : Buffer.from(v));
        const key = m.key === undefined ? null : typeof m.key === 'string' ? m.key : Buffer.from(m.key);
        await producer.send({ topic, acks: -1, messages: [{ key, value: Buffer.from(m.value), headers }] });
      },
      async close() {
        await Promise.allSettled([bus.close(), producer.disconnect()]);
        const admin = kafka.admin();
        await admin.connect();
        try {
          const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
          if (mine.length) await admin.deleteTopics({ topics: mine, timeout: 10_000 }).catch(() => undefined);
        } finally {
          await admin.disconnect();
        }
      },
    };
  }

  const { createNatsEventBus } = await import('../../../src/eventbus/nats/index.js');
  const token = prefix.replace(/-/g, '_');
  const streamPrefix = `P_${token}`.toUpperCase();
  const bus = await createNatsEventBus({ servers: target.servers, subjectPrefix: `p_${token}`, streamPrefix });
  const raw: RawNatsPublisher = await connectRawNats(target.servers);
  return {
    target: 'nats',
    bus,
    maxBytes: bus.maxMessageBytes ?? MEMORY_MAX_BYTES,
    carriesBytes: true,
    queueName,
    async publishRaw(topic, m) {
      if (!hasBytes(m)) return bus.publish(topic, asMessage(m));
      // NATS has no key: the bus carries it in the jobbus_key header, so bad key bytes go there.
      const headers: RawHeader[] = m.key === undefined ? [...m.headers] : [...m.headers, ['jobbus_key', m.key]];
      for (const [k, v] of headers) {
        const bad = typeof v === 'string' ? /[\r\n]/.test(v) : v.includes(10) || v.includes(13);
        if (bad) throw new Error(`raw NATS header ${k} holds CR or LF: it would break the protocol stream`);
      }
      await raw.publish(bus.subjectOf(topic), headers, m.value);
    },
    async close() {
      raw.close();
      const { jetstreamManager } = await import('@nats-io/jetstream');
      const jsm = await jetstreamManager(bus.connection);
      const names: string[] = [];
      for await (const s of jsm.streams.names()) if (s.startsWith(`${streamPrefix}_`) || s.startsWith(`KV_${streamPrefix}_`)) names.push(s);
      await Promise.allSettled(names.map((s) => jsm.streams.delete(s)));
      await bus.close();
    },
  };
}
