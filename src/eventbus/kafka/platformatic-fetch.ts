/**
 * Fetching with `@platformatic/kafka` (part of the platformatic driver): partitions at explicit
 * positions, from their leaders, through a connection pool of the caller's (so a long-polling
 * fetch never delays the group's heartbeats or commits), records converted to
 * {@link ConsumedRecord}s. Also the group-less range read of the browse tools ({@link readRanges}).
 */
import { randomUUID } from 'node:crypto';
import type * as Plt from '@platformatic/kafka';
import { UnavailableError } from '../../errors.js';
import { setHeader } from '../header-record.js';
import { normalize } from './platformatic-errors.js';
import type { PltConnection, PltModule } from './platformatic-driver.js';
import type { ConsumedRecord, OffsetRange, PartitionRecord } from './port.js';
import type { RawHeaderValue } from './wire.js';

/** A partition to fetch at `offset`. */
export interface FetchTarget {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** What one fetch brought for one partition. */
export interface FetchedPartition {
  readonly topic: string;
  readonly partition: number;
  /** Data records (control records left out), in offset order, none below the requested offset. */
  readonly records: ConsumedRecord[];
  /** One past the last offset of the fetched batches (control batches included); undefined when nothing came. */
  readonly nextOffset: number | undefined;
  /** The requested offset is out of range: the partition's first retained offset (-1 if unknown). */
  readonly outOfRange?: number;
}

/** Kafka error code OFFSET_OUT_OF_RANGE. */
const OFFSET_OUT_OF_RANGE = 1;
const IS_CONTROL = 1 << 5;

/** The fields of a fetch response read here (fetch v12..v17). */
interface FetchResponseLike {
  readonly responses: readonly {
    readonly topicId: string;
    readonly partitions: readonly {
      readonly partitionIndex: number;
      readonly errorCode: number;
      readonly logStartOffset: bigint;
      readonly records?: readonly Plt.RecordsBatch[];
    }[];
  }[];
}

/** The headers of a record as the adapter reads them (a repeated name keeps every value). */
function headersOf(raw: readonly (readonly [Buffer | null, Buffer | null])[]): Record<string, RawHeaderValue> | undefined {
  if (raw.length === 0) return undefined;
  const out: Record<string, RawHeaderValue> = {};
  for (const [k, v] of raw) {
    const name = k ? k.toString('utf8') : '';
    // Own properties only: any name can come from the wire, `__proto__` included.
    const prev = Object.prototype.hasOwnProperty.call(out, name) ? out[name] : undefined;
    if (prev === undefined) setHeader(out, name, v);
    else setHeader(out, name, Array.isArray(prev) ? [...(prev as Buffer[]), v ?? Buffer.alloc(0)] : [prev as Buffer, v ?? Buffer.alloc(0)]);
  }
  return out;
}

/** Convert the batches of one partition, leaving out control records and offsets below `from`. */
export function toRecords(batches: readonly Plt.RecordsBatch[], from: number): { records: ConsumedRecord[]; nextOffset: number | undefined } {
  const records: ConsumedRecord[] = [];
  let nextOffset: number | undefined;
  for (const batch of batches) {
    const first = Number(batch.firstOffset);
    nextOffset = first + batch.lastOffsetDelta + 1;
    if (batch.attributes & IS_CONTROL) continue;
    const firstTimestamp = batch.firstTimestamp;
    for (const r of batch.records) {
      const offset = first + r.offsetDelta;
      if (offset < from) continue;
      records.push({
        offset,
        key: r.key,
        value: r.value,
        headers: headersOf(r.headers as readonly (readonly [Buffer | null, Buffer | null])[]),
        timestamp: Number(firstTimestamp + r.timestampDelta),
      });
    }
  }
  return { records, nextOffset };
}

/** Close a consumer, leaving its group if it joined one (`close(true)` has only a callback form in the types). */
export function closeForced(client: Plt.Consumer): Promise<void> {
  return new Promise((resolve, reject) => client.close(true, (err) => (err ? reject(err) : resolve())));
}

/** Fetch settings. */
export interface FetchSettings {
  readonly maxWaitTimeMs: number;
  readonly maxBytesPerPartition: number;
}

/**
 * Fetch `targets` from their leaders (one request per leader, in parallel) through `pool`.
 * Partitions of a leader that failed are left out (`failures` gets the error); a partition whose
 * offset is out of range comes back with `outOfRange`.
 */
export async function fetchPartitions(
  client: Plt.Consumer,
  pool: Plt.ConnectionPool,
  targets: readonly FetchTarget[],
  s: FetchSettings,
  failures: unknown[],
): Promise<FetchedPartition[]> {
  const topics = [...new Set(targets.map((t) => t.topic))];
  const meta = await client.metadata({ topics });
  const byLeader = new Map<number, Map<string, { topicId: string; partitions: { partition: number; fetchOffset: bigint; partitionMaxBytes: number; currentLeaderEpoch: number; lastFetchedEpoch: number }[] }>>();
  const names = new Map<string, string>();
  const requested = new Map<string, number>();
  for (const t of targets) {
    const tm = meta.topics.get(t.topic);
    const pm = tm?.partitions[t.partition];
    if (!tm || !pm || pm.leader < 0) {
      client.clearMetadata();
      continue;
    }
    names.set(tm.id, t.topic);
    requested.set(`${t.topic}:${t.partition}`, t.offset);
    let leader = byLeader.get(pm.leader);
    if (!leader) byLeader.set(pm.leader, (leader = new Map()));
    let topic = leader.get(tm.id);
    if (!topic) leader.set(tm.id, (topic = { topicId: tm.id, partitions: [] }));
    topic.partitions.push({
      partition: t.partition,
      fetchOffset: BigInt(t.offset),
      partitionMaxBytes: s.maxBytesPerPartition,
      currentLeaderEpoch: -1,
      lastFetchedEpoch: -1,
    });
  }
  const responses = await Promise.all(
    [...byLeader].map(async ([node, topicsOfLeader]) => {
      try {
        return (await client.fetch({
          node,
          topics: [...topicsOfLeader.values()],
          maxWaitTime: s.maxWaitTimeMs,
          minBytes: 1,
          maxBytes: Math.max(s.maxBytesPerPartition * 4, 1_048_576),
          isolationLevel: 0,
          connectionPool: pool,
        })) as unknown as FetchResponseLike;
      } catch (err) {
        // A partition-level error fails the whole response; the other partitions' data is in it.
        const partial = (err as { response?: FetchResponseLike }).response;
        if (!partial || !Array.isArray(partial.responses)) {
          failures.push(normalize(err));
          client.clearMetadata();
          return undefined;
        }
        return partial;
      }
    }),
  );
  const out: FetchedPartition[] = [];
  for (const response of responses) {
    if (!response) continue;
    for (const t of response.responses) {
      const topic = names.get(t.topicId);
      if (topic === undefined) continue;
      for (const p of t.partitions) {
        const from = requested.get(`${topic}:${p.partitionIndex}`) ?? 0;
        if (p.errorCode === OFFSET_OUT_OF_RANGE) {
          out.push({ topic, partition: p.partitionIndex, records: [], nextOffset: undefined, outOfRange: Number(p.logStartOffset) });
          continue;
        }
        if (p.errorCode !== 0) {
          client.clearMetadata(); // leader moved or not ready: fetched again with fresh metadata
          continue;
        }
        const { records, nextOffset } = toRecords(p.records ?? [], from);
        out.push({ topic, partition: p.partitionIndex, records, nextOffset });
      }
    }
  }
  return out;
}

/**
 * Read the records of offset ranges (`to` exclusive) without a group (browse): a client that
 * never joins, fetching each partition from its range start until the range is read.
 */
export async function readRanges(
  mod: PltModule,
  connection: PltConnection,
  topic: string,
  ranges: readonly OffsetRange[],
  timeoutMs: number,
): Promise<PartitionRecord[]> {
  const position = new Map<number, OffsetRange & { at: number }>();
  for (const r of ranges) if (r.to > r.from) position.set(r.partition, { ...r, at: r.from });
  if (!position.size) return [];
  const client = new mod.Consumer({ ...connection, groupId: `jobbus.browse.${randomUUID()}`, autocommit: false });
  client.topics.track(topic);
  const pool = new mod.ConnectionPool(connection.clientId, { ...connection });
  const out: PartitionRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (position.size) {
      if (Date.now() > deadline) throw new UnavailableError(`kafka: reading "${topic}" took longer than ${timeoutMs} ms`);
      const failures: unknown[] = [];
      const targets = [...position.values()].map((p) => ({ topic, partition: p.partition, offset: p.at }));
      const fetched = await fetchPartitions(client, pool, targets, { maxWaitTimeMs: 100, maxBytesPerPartition: 1_048_576 }, failures);
      for (const f of fetched) {
        const p = position.get(f.partition);
        if (!p) continue;
        if (f.outOfRange !== undefined) {
          // Deleted meanwhile: nothing below the first retained offset can be read any more.
          if (f.outOfRange > p.at) p.at = f.outOfRange;
          else position.delete(f.partition);
        }
        for (const r of f.records) if (r.offset >= p.from && r.offset < p.to) out.push({ ...r, partition: f.partition });
        if (f.nextOffset !== undefined) p.at = Math.max(p.at, f.nextOffset);
        if (p.at >= p.to) position.delete(f.partition);
      }
      if (failures.length && !fetched.length) await new Promise((r) => setTimeout(r, 100));
    }
    return out;
  } finally {
    await pool.close().catch(() => undefined);
    await closeForced(client).catch(() => undefined);
  }
}
