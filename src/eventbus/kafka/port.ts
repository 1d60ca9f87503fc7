/**
 * The adapter's own small client port: everything the Kafka event bus needs from a Kafka
 * client library, and nothing more. `kafkajs-driver.ts` implements it over kafkajs; a second
 * driver (e.g. `@confluentinc/kafka-javascript`) would implement the same interfaces.
 * Offsets are JS numbers (exact up to 2^53, far beyond any real partition).
 */
import type { KafkaBusLogger, KafkaSaslOptions, KafkaTlsOptions } from './options.js';
import type { DecodedHeaders, RawHeaderValue } from './wire.js';

/** The connection settings every driver of the port is built with (from the bus options). */
export interface DriverOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl?: boolean | KafkaTlsOptions;
  readonly sasl?: KafkaSaslOptions;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Idempotent producer: the broker stores a retried send once. */
  readonly idempotent: boolean;
  readonly logger?: KafkaBusLogger;
}

/** A record to produce. */
export interface ProduceRecord {
  /** Partitioning key (murmur2, Java-compatible), or undefined for none. */
  readonly key?: string | undefined;
  /** Value bytes. */
  readonly value: Uint8Array;
  /** Header values: strings are written as UTF-8 (no intermediate buffer), bytes as they are. */
  readonly headers: Readonly<Record<string, string | Uint8Array>>;
  /** Record timestamp, epoch ms (default: now). */
  readonly timestamp?: number;
}

/** Producer: every send resolves only once all in-sync replicas acknowledged (acks = all). */
export interface ProducerPort {
  /** Send records to one topic. */
  send(topic: string, records: readonly ProduceRecord[]): Promise<void>;
  /** Flush and disconnect. */
  disconnect(): Promise<void>;
}

/** A topic to create. */
export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  /** -1 = broker default. */
  readonly replicationFactor: number;
  readonly configs?: Readonly<Record<string, string>>;
}

/** Cluster-level facts for the health check. */
export interface ClusterInfo {
  readonly clusterId: string;
  readonly brokers: number;
  readonly controller: number | null;
}

/** Low/high watermark of one partition. */
export interface PartitionOffsets {
  readonly partition: number;
  /** First retained offset. */
  readonly low: number;
  /** Next offset to be written. */
  readonly high: number;
}

/** A consumed record. */
export interface ConsumedRecord {
  readonly offset: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: Readonly<Record<string, RawHeaderValue>> | undefined;
  /** Record timestamp, epoch ms. */
  readonly timestamp: number;
  /**
   * The headers decoded as wire.ts `decodeHeaderValues(headers)` would, when the driver can do it
   * faster from its own form (the consume hot path reads this, not {@link headers}).
   */
  decodeHeaders?(): DecodedHeaders;
}

/** Admin operations. */
export interface AdminPort {
  describeCluster(): Promise<ClusterInfo>;
  listTopics(): Promise<string[]>;
  /** Create topics; topics that already exist are not an error. */
  createTopics(specs: readonly TopicSpec[]): Promise<void>;
  /** Watermarks of every partition of `topic`. */
  topicOffsets(topic: string): Promise<PartitionOffsets[]>;
  /** Delete records of `partition` below `beforeOffset`. */
  deleteRecords(topic: string, partition: number, beforeOffset: number): Promise<void>;
  /** A group's committed offsets of `topic` (offset -1 where it has committed none); queue stats read lag from them. */
  groupOffsets(groupId: string, topic: string): Promise<CommittedOffset[]>;
  disconnect(): Promise<void>;
}

/** Handed to {@link GroupHandlers.onBatch} for the batch being processed. */
export interface BatchControl {
  /** Move the fetch position past `offset` (it will not be fetched again by this member). */
  advance(offset: number): void;
  /** Heartbeat to the group coordinator (throttled by the driver); rejects when the group rebalances. */
  heartbeat(): Promise<void>;
  /** False once the consumer stops or this partition's position was reset (drop the rest of the batch). */
  isActive(): boolean;
}

/** One partition's fetched records. */
export interface ConsumedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly ConsumedRecord[];
}

/** Callbacks of a group consumer. */
export interface GroupHandlers {
  /** Records of one partition, in offset order. Records not {@link BatchControl.advance}d are fetched again. */
  onBatch(batch: ConsumedBatch, control: BatchControl): Promise<void>;
  /** The group (re)assigned partitions to this member; `generation` increases with every assignment. */
  onAssigned(assignment: ReadonlyMap<string, readonly number[]>, generation: number): void;
  /** The group started rebalancing: the current assignment is about to be revoked. */
  onRebalancing(): void;
  /**
   * Awaited when the driver learns of a rebalance while this member can still commit with the
   * current generation (before it rejoins): drain briefly and commit. Not called on every
   * rebalance (a driver may learn of one where it cannot wait); {@link onRebalancing} always is.
   */
  onRevoke?(): Promise<void>;
  /**
   * The consumer crashed. `restarting`: the client restarts it by itself (a new assignment
   * follows); false: it stays stopped (kafkajs does not restart after a non-retriable error) and
   * only a new consumer brings the member back.
   */
  onCrash(error: unknown, restarting: boolean): void;
}

/** An offset to commit: `offset` = the next offset to read. */
export interface CommitOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Commit metadata string stored with the offset (broker limit `offset.metadata.max.bytes`, default 4096). */
  readonly metadata?: string;
}

/** A group's committed offset of one partition. */
export interface CommittedOffset {
  readonly partition: number;
  /** Next offset to read, or -1 when the group has committed none. */
  readonly offset: number;
  /** Metadata committed with it ('' when none). */
  readonly metadata: string;
}

/**
 * Marks a commit the broker refused because its metadata exceeds `offset.metadata.max.bytes`
 * (a driver sets `metadataTooLarge: true` on the error it rejects with).
 */
export function isMetadataTooLarge(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { metadataTooLarge?: unknown }).metadataTooLarge === true;
}

/** Settings of a group consumer. */
export interface GroupConsumerSettings {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** Longest a fetch waits on the broker for data; also bounds how late a resume takes effect. */
  readonly maxWaitTimeMs: number;
  readonly maxBytesPerPartition: number;
  /** Partitions whose batches are processed at once. */
  readonly partitionsConcurrently: number;
}

/**
 * A group consumer: no auto-commit, new groups start at the earliest offset, fetch position
 * moves only through {@link BatchControl.advance}.
 */
export interface GroupConsumerPort {
  /** Connect, join, and start fetching. Resolves once running (the first assignment may come later). */
  start(handlers: GroupHandlers): Promise<void>;
  /**
   * Stop fetching `partitions` of `topic` (all when omitted). Never throws: while the consumer
   * is not running (between a crash and its restart) it does nothing, and the next assignment
   * starts with every assigned partition resumed by the caller.
   */
  pause(topic: string, partitions?: readonly number[]): void;
  /** Resume fetching. Never throws (see {@link pause}). */
  resume(topic: string, partitions?: readonly number[]): void;
  /** Commit once, no retries, with the current group generation. Rejects on failure. */
  commit(offsets: readonly CommitOffset[]): Promise<void>;
  /** The group's committed offsets (with metadata) of every partition of `topic` it has committed. */
  committed(topic: string): Promise<CommittedOffset[]>;
  /** Leave the group and disconnect. */
  stop(): Promise<void>;
}

/** A Kafka client library behind the adapter. */
export interface KafkaClientPort {
  producer(): Promise<ProducerPort>;
  admin(): Promise<AdminPort>;
  groupConsumer(settings: GroupConsumerSettings): GroupConsumerPort;
  /**
   * Read the records of offset ranges (`to` exclusive) without committing anything (browse).
   * Rejects after `timeoutMs`.
   */
  readRanges(topic: string, ranges: readonly OffsetRange[], timeoutMs: number): Promise<PartitionRecord[]>;
}

/** Offsets `from` (inclusive) to `to` (exclusive) of one partition. */
export interface OffsetRange {
  readonly partition: number;
  readonly from: number;
  readonly to: number;
}

/** A consumed record with its partition. */
export interface PartitionRecord extends ConsumedRecord {
  readonly partition: number;
}
