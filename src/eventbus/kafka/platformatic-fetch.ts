/**
 * Fetching with `@platformatic/kafka` (part of the platformatic driver): partitions at explicit
 * positions, from their leaders, through a connection pool of the caller's (so a long-polling
 * fetch never delays the group's heartbeats or commits), records converted to
 * {@link ConsumedRecord}s: by jobbus's reader (platformatic-fetch-response.ts) where the
 * negotiated Fetch version is 12–17, else by the library's (`fetch`, {@link toRecords}). Also the
 * group-less range read of the browse tools ({@link readRanges}).
 */
import { randomUUID } from 'node:crypto';
import type * as Plt from '@platformatic/kafka';
import { UnavailableError } from '../../errors.js';
import { isAccessDenied, normalize } from './platformatic-errors.js';
import type { PltConnection, PltModule } from './platformatic-driver.js';
import type { ConsumedRecord, OffsetRange, PartitionRecord } from './port.js';
import { FAST_FETCH_VERSIONS, negotiatedFetchVersion, sendFetch } from './platformatic-fetch-response.js';
import { IS_CONTROL, type ReadBatches } from './record-batch.js';
import { decodeHeaderPairs, headersOfPairs, type DecodedHeaders, type HeaderPairs, type RawHeaderValue } from './wire.js';

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
  /** The offset it was fetched at. */
  readonly from: number;
  /** Data records (control records left out), in offset order, none below the requested offset. */
  readonly records: ConsumedRecord[];
  /** One past the last offset of the fetched batches (control batches included); undefined when nothing came. */
  readonly nextOffset: number | undefined;
  /** The requested offset is out of range: the partition's first retained offset (-1 if unknown). */
  readonly outOfRange?: number;
}

/** Kafka error code OFFSET_OUT_OF_RANGE. */
const OFFSET_OUT_OF_RANGE = 1;

/** The fields of a fetch response read here (fetch v12..v17): the library's (`records`) or jobbus's reader's (`batches`). */
interface FetchResponseLike {
  readonly responses: readonly {
    readonly topicId: string;
    readonly partitions: readonly {
      readonly partitionIndex: number;
      readonly errorCode: number;
      readonly logStartOffset: bigint | number;
      readonly records?: readonly Plt.RecordsBatch[] | null;
      readonly batches?: ReadBatches | undefined;
    }[];
  }[];
}

/**
 * A fetched record. Header pairs are kept as the library parsed them and decoded only when read:
 * the consumer decodes them once, straight into the message's headers ({@link decodeHeaderPairs});
 * the raw record form ({@link headers}) and the timestamp are built only for those who ask
 * (browse, the delay relays).
 */
class FetchedRecord implements ConsumedRecord {
  #headers: Record<string, RawHeaderValue> | undefined | null = null;

  constructor(
    readonly offset: number,
    readonly key: Uint8Array | null,
    readonly value: Uint8Array | null,
    private readonly pairs: HeaderPairs,
    private readonly firstTimestamp: bigint,
    private readonly timestampDelta: bigint,
  ) {}

  get headers(): Record<string, RawHeaderValue> | undefined {
    if (this.#headers === null) this.#headers = headersOfPairs(this.pairs);
    return this.#headers;
  }

  get timestamp(): number {
    return Number(this.firstTimestamp + this.timestampDelta);
  }

  decodeHeaders(): DecodedHeaders {
    return decodeHeaderPairs(this.pairs);
  }
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
      records.push(new FetchedRecord(offset, r.key, r.value, r.headers as HeaderPairs, firstTimestamp, r.timestampDelta));
    }
  }
  return { records, nextOffset };
}

/**
 * The error of one failed partition of a fetch response: the library's protocol error for its
 * code out of the response's error (so it classifies as any other), else a plain one.
 */
function partitionError(responseError: unknown, code: number, topic: string, partition: number): unknown {
  const inner = (responseError as { errors?: unknown } | undefined)?.errors;
  const found = Array.isArray(inner) ? inner.find((e: unknown) => (e as { apiCode?: unknown } | null)?.apiCode === code) : undefined;
  return found !== undefined ? normalize(found) : new UnavailableError(`kafka: fetching ${topic}/${partition} failed with Kafka error code ${code}`);
}

/** Fewest failed fetches in a row before fetching counts as failing for good. */
export const FETCH_FAILURE_MIN_ATTEMPTS = 3;

/**
 * Fetches in a row that failed for every partition, and when that becomes a crash: access
 * denied after {@link FETCH_FAILURE_MIN_ATTEMPTS} attempts, any other error once it has lasted
 * `lastingMs` too (the session timeout: by then the group has dropped the member anyway).
 */
export interface FetchFailures {
  /** A fetch failed for every partition with `errors`; returns the error to crash with, if it is time. */
  failed(errors: readonly unknown[]): Error | undefined;
  /** A fetch brought something (or nothing, cleanly): the streak ends. */
  succeeded(): void;
  /** Failed fetches in the current streak. */
  attempts(): number;
  /** How long to wait before the next attempt, ms (exponential, at most 5 s). */
  backoffMs(): number;
}

/** Track failed fetches (see {@link FetchFailures}); `now` is the clock (tests). */
export function createFetchFailures(lastingMs: number, now: () => number = Date.now): FetchFailures {
  let attempts = 0;
  let since = 0;
  return {
    failed(errors) {
      const t = now();
      if (attempts === 0) since = t;
      attempts++;
      if (attempts < FETCH_FAILURE_MIN_ATTEMPTS) return undefined;
      const denied = errors.find(isAccessDenied);
      if (denied === undefined && t - since < lastingMs) return undefined;
      const cause = denied ?? errors[0];
      const why = cause instanceof Error ? cause.message : String(cause);
      return new UnavailableError(`kafka: fetching has failed for ${t - since} ms (${attempts} attempts in a row): ${why}`, { cause });
    },
    succeeded() {
      attempts = 0;
    },
    attempts: () => attempts,
    backoffMs: () => Math.min(5_000, 100 * 2 ** Math.min(attempts, 6)),
  };
}

/** Close a consumer, leaving its group if it joined one (`close(true)` has only a callback form in the types). */
export function closeForced(client: Plt.Consumer): Promise<void> {
  return new Promise((resolve, reject) => client.close(true, (err) => (err ? reject(err) : resolve())));
}

/** Fetch settings. */
export interface FetchSettings {
  readonly maxWaitTimeMs: number;
  readonly maxBytesPerPartition: number;
  /**
   * Whose reader reads the responses: jobbus's (record-batch.ts; the default where the
   * negotiated Fetch version is 12–17) or the library's (`fetch`; tests compare the two).
   */
  readonly reader?: 'jobbus' | 'library';
}

/**
 * Fetch `targets` from their leaders (one request per leader, in parallel) through `pool`.
 * Partitions of a leader that failed are left out (`failures` gets the error); a partition whose
 * offset is out of range comes back with `outOfRange`.
 */
export async function fetchPartitions(
  mod: PltModule,
  client: Plt.Consumer,
  pool: Plt.ConnectionPool,
  targets: readonly FetchTarget[],
  s: FetchSettings,
  failures: unknown[],
): Promise<FetchedPartition[]> {
  const topics = [...new Set(targets.map((t) => t.topic))];
  const meta = await client.metadata({ topics });
  const version = s.reader === 'library' ? undefined : await negotiatedFetchVersion(mod, client);
  const ownReader = version !== undefined && version >= FAST_FETCH_VERSIONS.first && version <= FAST_FETCH_VERSIONS.last;
  const byLeader = new Map<number, Map<string, { topicId: string; partitions: { partition: number; fetchOffset: bigint; partitionMaxBytes: number; currentLeaderEpoch: number; lastFetchedEpoch: number }[] }>>();
  const names = new Map<string, string>();
  const requested = new Map<string, number>();
  for (const t of targets) {
    const tm = meta.topics.get(t.topic);
    const pm = tm?.partitions[t.partition];
    if (!tm || !pm || pm.leader < 0) {
      failures.push(new UnavailableError(`kafka: no leader known for ${t.topic}/${t.partition}`));
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
  const positionOf = (topicId: string, partition: number): number => requested.get(`${names.get(topicId)}:${partition}`) ?? 0;
  /** The error a partial response came with (its protocol errors name each failed partition's). */
  const partialErrors = new Map<FetchResponseLike, unknown>();
  const responses = await Promise.all(
    [...byLeader].map(async ([node, topicsOfLeader]): Promise<FetchResponseLike | undefined> => {
      const request = {
        node,
        topics: [...topicsOfLeader.values()],
        maxWaitTime: s.maxWaitTimeMs,
        minBytes: 1,
        maxBytes: Math.max(s.maxBytesPerPartition * 4, 1_048_576),
        isolationLevel: 0,
        connectionPool: pool,
      };
      try {
        if (!ownReader) return (await client.fetch(request)) as unknown as FetchResponseLike;
        const broker = meta.brokers.get(node);
        if (!broker) throw new UnavailableError(`kafka: broker ${node} is not in the metadata`);
        return await sendFetch(mod, await pool.get(broker), version, request, positionOf);
      } catch (err) {
        // A partition-level error fails the whole response; the other partitions' data is in it.
        const partial = (err as { response?: FetchResponseLike }).response;
        if (!partial || !Array.isArray(partial.responses)) {
          failures.push(normalize(err));
          client.clearMetadata();
          return undefined;
        }
        partialErrors.set(partial, err);
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
          out.push({ topic, partition: p.partitionIndex, from, records: [], nextOffset: undefined, outOfRange: Number(p.logStartOffset) });
          continue;
        }
        if (p.errorCode !== 0) {
          // Leader moved or not ready (fetched again with fresh metadata), or a lasting error
          // such as access denied: the caller decides from `failures` how long to keep trying.
          failures.push(partitionError(partialErrors.get(response), p.errorCode, topic, p.partitionIndex));
          client.clearMetadata();
          continue;
        }
        const { records, nextOffset } = ownReader ? (p.batches ?? { records: [], nextOffset: undefined }) : toRecords(p.records ?? [], from);
        out.push({ topic, partition: p.partitionIndex, from, records, nextOffset });
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
      const fetched = await fetchPartitions(mod, client, pool, targets, { maxWaitTimeMs: 100, maxBytesPerPartition: 1_048_576 }, failures);
      for (const f of fetched) {
        const p = position.get(f.partition);
        if (!p) continue;
        if (f.outOfRange !== undefined) {
          // Deleted meanwhile: nothing below the first retained offset can be read any more.
          if (f.outOfRange > p.at) p.at = f.outOfRange;
          else position.delete(f.partition);
        }
        for (const r of f.records) {
          if (r.offset >= p.from && r.offset < p.to) out.push({ offset: r.offset, key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, partition: f.partition });
        }
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
