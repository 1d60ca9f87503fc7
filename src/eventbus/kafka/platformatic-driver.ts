/**
 * The {@link KafkaClientPort} over `@platformatic/kafka` (1.35+ on Node 20, 2.x on Node 22+):
 * pure JavaScript, maintained, speaks the current protocol versions. With the other
 * `platformatic-*.ts` files, the only code of jobbus that touches it; it is an optional peer
 * dependency, loaded with a dynamic import by {@link loadPlatformaticDriver}.
 *
 * Group consumers (platformatic-group-consumer.ts) use the library's group membership (join,
 * sync, background heartbeats) but fetch, pause, commit (with metadata, once, with a pinned
 * generation) and read committed offsets themselves through the library's protocol APIs: its
 * `MessagesStream` has no per-partition pause and moves the fetch position by itself, and its
 * `commit` sends no metadata and retries after a rejoin, all of which the port rules out.
 */
import { Buffer } from 'node:buffer';
import type * as Plt from '@platformatic/kafka';
import { InvalidArgumentError, NotInitializedError } from '../../errors.js';
import { guardIdempotentProducer, type MultiTopicProducer, type TopicRecords } from './idempotent-producer.js';
import { keyHash } from './murmur2.js';
import { createPlatformaticAdmin } from './platformatic-admin.js';
import { normalize } from './platformatic-errors.js';
import { readRanges } from './platformatic-fetch.js';
import { createPlatformaticGroupConsumer } from './platformatic-group-consumer.js';
import { useOwnProduceWriter } from './platformatic-produce.js';
import type { KafkaSaslOptions } from './options.js';
import type { AdminPort, DriverOptions, KafkaClientPort, ProducerPort } from './port.js';

/** The `@platformatic/kafka` module. */
export type PltModule = typeof Plt;

/** Connection settings of the `@platformatic/kafka` driver (the same as every driver's). */
export type PlatformaticDriverOptions = DriverOptions;

/** What every client of the driver is built with (the library's base and connection options). */
export interface PltConnection {
  readonly clientId: string;
  readonly bootstrapBrokers: string[];
  readonly connectTimeout: number;
  readonly timeout: number;
  readonly requestTimeout: number;
  readonly retries: number;
  readonly retryDelay: number;
  readonly tls?: import('node:tls').ConnectionOptions;
  readonly sasl?: Plt.SASLOptions;
}

/** Load `@platformatic/kafka` and build the driver; a clear error when the optional peer dependency is missing. */
export async function loadPlatformaticDriver(options: PlatformaticDriverOptions): Promise<KafkaClientPort> {
  let mod: PltModule;
  try {
    mod = (await import('@platformatic/kafka')) as PltModule;
  } catch (cause) {
    // Not retryable: a missing dependency does not appear by waiting.
    throw new NotInitializedError(
      'jobbus/kafka with driver "platformatic" needs the optional peer dependency "@platformatic/kafka" (^1.35.0 on Node 20, ^2.0.0 on Node 22+): install it with `npm install @platformatic/kafka`',
      { cause },
    );
  }
  return createPlatformaticDriver(mod, options);
}

const SASL_MECHANISMS: Readonly<Record<KafkaSaslOptions['mechanism'], 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'>> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

/** The bus's TLS and SASL options as the library's connection options. */
export function connectionOf(options: PlatformaticDriverOptions): PltConnection {
  let tls: import('node:tls').ConnectionOptions | undefined;
  if (options.ssl === true) tls = {};
  else if (options.ssl) {
    const { ca, cert, key, passphrase, rejectUnauthorized, servername } = options.ssl;
    tls = {
      ...(ca !== undefined ? { ca: typeof ca === 'string' || Buffer.isBuffer(ca) ? ca : [...ca] } : {}),
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(passphrase !== undefined ? { passphrase } : {}),
      ...(rejectUnauthorized !== undefined ? { rejectUnauthorized } : {}),
      ...(servername !== undefined ? { servername } : {}),
    };
  }
  let sasl: Plt.SASLOptions | undefined;
  if (options.sasl) {
    const mechanism = SASL_MECHANISMS[options.sasl.mechanism];
    if (!mechanism) {
      throw new InvalidArgumentError(`kafka: SASL mechanism "${String(options.sasl.mechanism)}" is not supported by the platformatic driver (plain, scram-sha-256, scram-sha-512)`);
    }
    sasl = { mechanism, username: options.sasl.username, password: options.sasl.password };
  }
  return {
    clientId: options.clientId,
    bootstrapBrokers: [...options.brokers],
    connectTimeout: options.connectionTimeoutMs,
    timeout: options.requestTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    // Bounded retries (as the kafkajs driver): a dead cluster fails an operation within seconds.
    retries: 5,
    retryDelay: 250,
    ...(tls ? { tls } : {}),
    ...(sasl ? { sasl } : {}),
  };
}

/**
 * Header names as bytes, by name: a bus writes the same few names on every record (`job_*`),
 * so each is encoded once. Bounded: past {@link NAME_CACHE_MAX} names it starts over.
 */
const headerNames = new Map<string, Buffer>();
const NAME_CACHE_MAX = 1_024;

function headerNameBytes(name: string): Buffer {
  let b = headerNames.get(name);
  if (b === undefined) {
    if (headerNames.size >= NAME_CACHE_MAX) headerNames.clear();
    b = Buffer.from(name, 'utf8');
    headerNames.set(name, b);
  }
  return b;
}

/**
 * The last header name and short string value written at each position of a record, with their
 * bytes. A producer's records repeat names in the same order and most values (queue, name,
 * counts, times, content type): equal text reuses the bytes instead of encoding them again. The
 * library only reads header bytes (it appends them to its request buffers, never writes into
 * them), and so does nothing else here, so one Buffer can serve many records.
 */
const lastNames: string[] = [];
const lastNameBytes: Buffer[] = [];
const lastValues: string[] = [];
const lastValueBytes: Buffer[] = [];
/** Positions remembered (records with more headers encode the rest each time). */
const LAST_POSITIONS = 64;
/** Longest value remembered: job_* values, not ids or failure reasons. */
const LAST_VALUE_MAX = 32;

/** The bytes of header value `v` at `position` (a string's UTF-8, reused when equal to the last one there). */
function headerValueBytes(v: string | Uint8Array, position: number): Buffer {
  if (typeof v !== 'string' || position >= LAST_POSITIONS || v.length > LAST_VALUE_MAX) return toBuffer(v);
  if (lastValues[position] === v) return lastValueBytes[position]!;
  const b = Buffer.from(v, 'utf8');
  lastValues[position] = v;
  lastValueBytes[position] = b;
  return b;
}

/** A record's headers as the library writes them: a Map of name and value bytes (it would build one from the entries). Exported for tests. */
export function headerMap(headers: Readonly<Record<string, string | Uint8Array>>): Map<Buffer, Buffer> {
  const out = new Map<Buffer, Buffer>();
  let i = 0;
  for (const name in headers) {
    let nameBytes: Buffer;
    if (i < LAST_POSITIONS && lastNames[i] === name) nameBytes = lastNameBytes[i]!;
    else {
      nameBytes = headerNameBytes(name);
      if (i < LAST_POSITIONS) {
        lastNames[i] = name;
        lastNameBytes[i] = nameBytes;
      }
    }
    out.set(nameBytes, headerValueBytes(headers[name]!, i));
    i++;
  }
  return out;
}

/** A connected producer behind the port (acks = all); idempotent sends go through {@link guardIdempotentProducer}. */
async function connectProducer(mod: PltModule, connection: PltConnection, options: PlatformaticDriverOptions): Promise<MultiTopicProducer> {
  // Keyed records: murmur2 & 0x7fffffff modulo the partitions (the Java client's and kafkajs'
  // DefaultPartitioner; murmur2.ts computes the library's compatibilityPartitioner without its
  // BigInt arithmetic); keyless ones round-robin (the library's default puts them all on 0).
  let next = 0;
  const same = <T>(v: T): T => v;
  const producer = new mod.Producer<string, Buffer, Buffer, Buffer>({
    ...connection,
    clientId: connection.clientId,
    idempotent: options.idempotent,
    acks: mod.ProduceAcks.ALL,
    autocreateTopics: false,
    serializers: {
      key: (k?: string) => (k === undefined ? undefined : Buffer.from(k, 'utf8')),
      value: same,
      // Headers arrive as bytes already (headerMap).
      headerKey: same,
      headerValue: same,
    },
    partitioner: (_message, key) => (key ? keyHash(key) : next++ & 0x7fffffff),
  });
  useOwnProduceWriter(mod, producer);
  try {
    await producer.metadata({ topics: [] });
  } catch (err) {
    await producer.close().catch(() => undefined);
    throw normalize(err);
  }
  const sendBatches = async (batches: readonly TopicRecords[]): Promise<void> => {
    const messages: Plt.MessageToProduce<string, Buffer, Buffer, Buffer>[] = [];
    for (const { topic, records } of batches) {
      for (const r of records) {
        const value = toBuffer(r.value);
        const headers = headerMap(r.headers);
        // Literals, not spreads of conditional objects (a temporary object and a copy per record).
        const m: Plt.MessageToProduce<string, Buffer, Buffer, Buffer> = r.key !== undefined ? { topic, key: r.key, value, headers } : { topic, value, headers };
        if (r.timestamp !== undefined) m.timestamp = BigInt(r.timestamp);
        messages.push(m);
      }
    }
    try {
      await producer.send({ messages });
    } catch (err) {
      throw normalize(err);
    }
  };
  return {
    send: (topic, records) => sendBatches([{ topic, records }]),
    sendBatches,
    disconnect: () => producer.close(),
  };
}

function toBuffer(v: Uint8Array | string): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function createPlatformaticDriver(mod: PltModule, options: PlatformaticDriverOptions): KafkaClientPort {
  const connection = connectionOf(options);

  // One admin client per driver, shared by the bus's AdminPort and the group consumers'
  // committed-offset reads (as the kafkajs driver does), closed when its last user releases it.
  let shared: { admin: Plt.Admin; users: number } | undefined;
  const acquireAdmin = (): { admin: Plt.Admin; release(): Promise<void> } => {
    shared ??= { admin: new mod.Admin({ ...connection }), users: 0 };
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
        await entry.admin.close().catch(() => undefined);
      },
    };
  };

  return {
    async producer(): Promise<ProducerPort> {
      const open = (): Promise<MultiTopicProducer> => connectProducer(mod, connection, options);
      return options.idempotent ? guardIdempotentProducer(await open(), open) : open();
    },

    async admin(): Promise<AdminPort> {
      const held = acquireAdmin();
      return createPlatformaticAdmin(held.admin, () => held.release(), Math.max(options.requestTimeoutMs, 10_000));
    },

    groupConsumer(settings) {
      return createPlatformaticGroupConsumer(mod, connection, settings, options.logger, acquireAdmin);
    },

    readRanges(topic, ranges, timeoutMs) {
      return readRanges(mod, connection, topic, ranges, timeoutMs);
    },
  };
}
