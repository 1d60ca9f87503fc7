/**
 * Options of {@link createKafkaEventBus} and their defaults.
 */
import type { KafkaClientPort } from './port.js';

/** A pino-compatible logger (only the methods used). */
export interface KafkaBusLogger {
  debug?(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** How topics the bus creates are laid out. */
export interface KafkaTopicOptions {
  /** Partitions of queue and DLQ topics. Default 8. */
  readonly partitions?: number;
  /** Partitions of delay-tier topics. Default: same as `partitions`. */
  readonly delayPartitions?: number;
  /** Replication factor; -1 = the broker's `default.replication.factor`. Default -1. */
  readonly replicationFactor?: number;
  /** Extra topic configs for every created topic (e.g. `min.insync.replicas`); a `retention.ms` here wins over `retentionMs`. */
  readonly configs?: Readonly<Record<string, string>>;
  /**
   * `retention.ms` of the topics the bus creates (queue, delay and DLQ topics). Default 14 days,
   * and at least the longest delay tier + 7 days. Existing topics are not altered.
   */
  readonly retentionMs?: number;
}

/** Consumer group tuning (tests use small values so rebalances are quick). */
export interface KafkaConsumerOptions {
  /** Group session timeout, ms. Default 30 000. */
  readonly sessionTimeoutMs?: number;
  /** Heartbeat interval, ms. Default 3 000. */
  readonly heartbeatIntervalMs?: number;
  /** Rebalance timeout, ms. Default 60 000. */
  readonly rebalanceTimeoutMs?: number;
  /** Longest a fetch long-polls; bounds how late a resumed partition is fetched again, ms. Default 250. */
  readonly maxWaitTimeMs?: number;
  /** Bytes fetched per partition per request. Default 1 MiB. */
  readonly maxBytesPerPartition?: number;
  /** Partitions whose batches are handled at once. Default 4. */
  readonly partitionsConcurrently?: number;
}

/**
 * TLS settings of the connections to the brokers (Node `tls.connect` options, PEM text or
 * Buffers). `ca` replaces Node's bundled roots: give it when the brokers' certificates come
 * from your own CA.
 */
export interface KafkaTlsOptions {
  /** Certificate authorities the broker certificates must chain to (PEM). Default: Node's roots. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate (PEM) for brokers that require mutual TLS (`ssl.client.auth=required`). */
  readonly cert?: string | Buffer;
  /** Private key of `cert` (PEM). */
  readonly key?: string | Buffer;
  /** Passphrase of an encrypted `key`. */
  readonly passphrase?: string;
  /** Refuse brokers whose certificate does not verify. Default true; false only for experiments. */
  readonly rejectUnauthorized?: boolean;
  /** Host name the broker certificate must carry when it differs from the bootstrap host (SNI too). */
  readonly servername?: string;
}

/** SASL credentials of {@link KafkaEventBusOptions.sasl}. */
export interface KafkaSaslOptions {
  readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  /** Never logged and never part of an error message. */
  readonly password: string;
}

/** The Kafka client libraries the bus can drive. */
export type KafkaDriverName = 'kafkajs' | 'platformatic';

/** Options of {@link createKafkaEventBus}. */
export interface KafkaEventBusOptions {
  /** Bootstrap servers, e.g. `['127.0.0.1:9092']`. */
  readonly brokers: readonly string[];
  /** Client id sent to the brokers. Default `jobbus`. */
  readonly clientId?: string;
  /**
   * TLS: `true` for TLS trusting Node's bundled roots, or {@link KafkaTlsOptions} (your CA, a
   * client certificate, the expected server name). Default: no TLS.
   */
  readonly ssl?: boolean | KafkaTlsOptions;
  /**
   * SASL credentials (with `ssl` for the `SASL_SSL` protocol). A wrong user or password fails the
   * first operation with an `AuthenticationError` (`AUTH_FAILED`, not retryable).
   */
  readonly sasl?: KafkaSaslOptions;
  /** Create missing queue, delay and DLQ topics on first use (default true); when false, verify they exist. */
  readonly autoCreateTopics?: boolean;
  /** Layout of created topics. */
  readonly topics?: KafkaTopicOptions;
  /** Delay tiers in ms (default 1 s, 10 s, 1 min, 10 min, 1 h). */
  readonly delayTiersMs?: readonly number[];
  /** Consumer group id of a subscription. Default `${group}.${topic}`. */
  readonly groupId?: (group: string, topic: string) => string;
  /** Consumer group id of the relay of a delay topic. Default `jobbus.relay.${delayTopic}`. */
  readonly relayGroupId?: (delayTopic: string) => string;
  /**
   * The dead-letter topic of a queue topic, where a relay puts a delayed record the broker
   * refuses for good (too large, invalid) instead of retrying it forever. Default `${topic}.dlq`.
   */
  readonly deadLetterTopicOf?: (topic: string) => string;
  /**
   * First back-off of a relay after a failed forward, ms; doubles per consecutive failure up to
   * 30 s. Default 1 000.
   */
  readonly relayBackoffMs?: number;
  /**
   * A delayed record the broker refuses for good whose dead-letter copy is refused too: by
   * default the relay keeps it and tries again with back-off forever (its tier partition waits,
   * every try is logged at error level), because skipping it loses the job. Set a number of
   * attempts to skip it after them instead (logged, counted in `relayCounters().skipped`).
   */
  readonly relaySkipRefusedAfter?: number;
  /** How often a subscribed queue's relays look for delay topics of other ladders, ms. Default 30 000. */
  readonly relayDiscoveryIntervalMs?: number;
  /** Most records `remove` reads per round trip and holds in memory. Default 5 000. */
  readonly removeChunkRecords?: number;
  /**
   * Most offsets per partition from the oldest unsettled message to the newest admitted one; past
   * it the partition is not fetched until the oldest settles. Bounds memory (one byte per offset)
   * and keeps the settled offsets above the committed one within the commit metadata, so a
   * crash replays only what was unsettled. Default 24 000 (fits the broker's default 4 KiB
   * `offset.metadata.max.bytes`); larger values work, but settled offsets past what fits are
   * delivered again after a crash.
   */
  readonly maxOffsetSpan?: number;
  /** Subscription consumers. */
  readonly consumer?: KafkaConsumerOptions;
  /**
   * Relay consumers (defaults as `consumer`, but `maxWaitTimeMs` 100 for punctual wake-ups and
   * `maxBytesPerPartition` 64 KiB: a paused relay holds its last fetch in memory).
   */
  readonly relay?: KafkaConsumerOptions;
  /**
   * A rejection asking for a redelivery later than this (ms) goes through the delay topics
   * instead of waiting in memory: the same message is republished with `deliverAt` and the
   * original counts as settled. Default 5 000.
   */
  readonly inMemoryRedeliveryMaxMs?: number;
  /** Bounded wait for in-flight handlers on subscription close and partition revocation, ms. Default 5 000. */
  readonly drainTimeoutMs?: number;
  /** Idempotent producer. Default true. */
  readonly idempotent?: boolean;
  /**
   * Largest record (value + key + headers) the topics take, bytes: the broker's
   * `message.max.bytes` / the topics' `max.message.bytes`, less a little framing. The jobs
   * bridge refuses at enqueue a job that would leave no room for its retry and dead-letter
   * headers. Default 1 000 000 (the broker default, 1 048 588, less framing and slack).
   */
  readonly maxMessageBytes?: number;
  /** Connection timeout, ms. Default 3 000. */
  readonly connectionTimeoutMs?: number;
  /** Request timeout, ms. Default 30 000. */
  readonly requestTimeoutMs?: number;
  /** Where kafkajs and the bus log warnings and errors. Default: silent. */
  readonly logger?: KafkaBusLogger;
  /**
   * The client library behind the bus (both are optional peer dependencies, loaded when the bus
   * is created): `'platformatic'` (`@platformatic/kafka`, ^1.35 on Node 20, ^2 on Node 22+) or
   * `'kafkajs'`. Default: `'platformatic'` when that package can be loaded, else `'kafkajs'`
   * (the README's *Kafka* section says why). Ignored when {@link client} is given.
   */
  readonly driver?: KafkaDriverName;
  /** Use this client driver instead of loading one (a second driver, or instrumentation). */
  readonly client?: KafkaClientPort;
}

/** Resolved consumer settings. */
export interface ResolvedConsumerOptions {
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly maxWaitTimeMs: number;
  readonly maxBytesPerPartition: number;
  readonly partitionsConcurrently: number;
}

/** Fill in consumer defaults. */
export function resolveConsumerOptions(
  o: KafkaConsumerOptions | undefined,
  base?: ResolvedConsumerOptions,
): ResolvedConsumerOptions {
  const session = o?.sessionTimeoutMs ?? base?.sessionTimeoutMs ?? 30_000;
  return {
    sessionTimeoutMs: session,
    heartbeatIntervalMs: o?.heartbeatIntervalMs ?? base?.heartbeatIntervalMs ?? Math.max(100, Math.min(3_000, Math.floor(session / 3))),
    rebalanceTimeoutMs: o?.rebalanceTimeoutMs ?? base?.rebalanceTimeoutMs ?? 60_000,
    maxWaitTimeMs: o?.maxWaitTimeMs ?? base?.maxWaitTimeMs ?? 250,
    maxBytesPerPartition: o?.maxBytesPerPartition ?? base?.maxBytesPerPartition ?? 1_048_576,
    partitionsConcurrently: o?.partitionsConcurrently ?? base?.partitionsConcurrently ?? 4,
  };
}
