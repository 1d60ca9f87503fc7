/**
 * Fetch requests of the platformatic driver with jobbus's own response reader: the library builds
 * and sends the request (its `fetchV<n>.createRequest`, the version it negotiated with the
 * broker, a connection of the caller's pool) and jobbus reads the response, its record batches
 * straight into records (record-batch.ts) instead of the library's objects per record and per
 * header. The response's fields and its errors are the library's: a top-level or partition
 * error code throws the library's `ResponseError` carrying the response, as its own reader does.
 * Fetch v12 to v17 (Kafka 2.7+): the versions both library lines implement; any other version
 * negotiated falls back to the library's `fetch` (see platformatic-fetch.ts).
 */
import type { Buffer } from 'node:buffer';
import type * as Plt from '@platformatic/kafka';
import type { PltModule } from './platformatic-driver.js';
import { ByteCursor, readRecordBatches, type Decompress, type ReadBatches } from './record-batch.js';

/** One partition of a fetch response as read here. */
export interface FetchedPartitionData {
  readonly partitionIndex: number;
  readonly errorCode: number;
  readonly logStartOffset: number;
  /** Its records at or above the position fetched (undefined: the partition brought no bytes). */
  readonly batches: ReadBatches | undefined;
}

/** A fetch response as read here: topics by id (v13+) or by name (v12), as the library names them. */
export interface FetchResponseData {
  readonly responses: readonly { readonly topicId: string; readonly partitions: readonly FetchedPartitionData[] }[];
}

/** The fetch request's fields, as the library's `fetch` takes them. */
export interface FetchRequest {
  readonly maxWaitTime: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly isolationLevel: number;
  readonly topics: readonly unknown[];
}

const FETCH_API_KEY = 1;
/** The Fetch versions read here. */
export const FAST_FETCH_VERSIONS = { first: 12, last: 17 } as const;

/** What the connection hands a response parser: the library's reader over the response body. */
interface ResponseReader {
  readonly position: number;
  readonly buffer: { readonly length: number; slice(start: number, end?: number): Buffer };
}

/** Skip a tagged-field section (flexible versions): a count, then tag, size and bytes each. */
function skipTaggedFields(c: ByteCursor): void {
  for (let n = c.uvarint(); n > 0; n--) {
    c.uvarint();
    c.skip(c.uvarint());
  }
}

/** A topic id as the library writes it: 32 hex digits in 8-4-4-4-12 groups. */
function readUuid(c: ByteCursor): string {
  c.need(16);
  const hex = c.buf.toString('hex', c.pos, c.pos + 16);
  c.pos += 16;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A compact array's length (null counts as empty). */
function compactLength(c: ByteCursor): number {
  const n = c.uvarint();
  return n === 0 ? 0 : n - 1;
}

/** Where each partition was fetched from: records below it are left out. */
export type FetchPositions = (topicId: string, partition: number) => number;

/** Read one partition of a fetch response (all versions 12–17 share its layout). */
function readPartition(c: ByteCursor, topicId: string, from: FetchPositions, decompress: Decompress, path: string, errors: [string, [number, null]][]): FetchedPartitionData {
  const partitionIndex = c.int32();
  const errorCode = c.int16();
  c.skip(16); // high watermark, last stable offset
  const logStartOffset = c.int64();
  for (let n = compactLength(c); n > 0; n--) {
    c.skip(16); // aborted transaction: producer id, first offset
    skipTaggedFields(c);
  }
  c.skip(4); // preferred read replica
  if (errorCode !== 0) errors.push([path, [errorCode, null]]);
  const size = c.uvarint();
  let batches: ReadBatches | undefined;
  if (size > 1) {
    c.need(size - 1);
    batches = readRecordBatches(c.buf, c.pos, c.pos + size - 1, from(topicId, partitionIndex), decompress);
    c.pos += size - 1;
  }
  skipTaggedFields(c);
  return { partitionIndex, errorCode, logStartOffset, batches };
}

/**
 * Read a Fetch response body of `version` (12–17). Throws what the library's reader throws for
 * error codes: `ResponseError` with the errors by path and the whole response.
 */
export function readFetchResponse(mod: PltModule, version: number, body: Buffer, from: FetchPositions, decompress: Decompress): FetchResponseData {
  const c = new ByteCursor(body, 0, body.length);
  const errors: [string, [number, null]][] = [];
  c.skip(4); // throttle time
  const errorCode = c.int16();
  if (errorCode !== 0) errors.push(['', [errorCode, null]]);
  c.skip(4); // session id
  const responses: { topicId: string; partitions: FetchedPartitionData[] }[] = [];
  for (let i = 0, topics = compactLength(c); i < topics; i++) {
    let topicId: string;
    if (version >= 13) topicId = readUuid(c);
    else {
      const len = compactLength(c);
      c.need(len);
      topicId = c.buf.toString('utf8', c.pos, c.pos + len);
      c.pos += len;
    }
    const partitions: FetchedPartitionData[] = [];
    for (let j = 0, n = compactLength(c); j < n; j++) partitions.push(readPartition(c, topicId, from, decompress, `/responses/${i}/partitions/${j}`, errors));
    skipTaggedFields(c);
    responses.push({ topicId, partitions });
  }
  skipTaggedFields(c);
  const response: FetchResponseData = { responses };
  if (errors.length) throw new mod.ResponseError(FETCH_API_KEY, version, Object.fromEntries(errors), response);
  return response;
}

/** The library's codecs by batch attribute bits, as a {@link Decompress}. */
export function libraryDecompress(mod: PltModule): Decompress {
  return (bitmask, data) => {
    const algorithm = (mod.compressionsAlgorithmsByBitmask as Record<number, { decompressSync(d: Buffer): Buffer } | undefined>)[bitmask];
    if (!algorithm) throw new mod.UnsupportedCompressionError(`Unsupported compression algorithm with bitmask ${bitmask}`);
    return algorithm.decompressSync(data);
  };
}

/** The Fetch version the library negotiated with the cluster (its highest it implements). */
export function negotiatedFetchVersion(mod: PltModule, client: Plt.Consumer): Promise<number> {
  return new Promise((resolve, reject) =>
    client[mod.kGetApi]<unknown[], unknown>('Fetch', (err, api) => (err ? reject(err) : resolve((api as unknown as { version: number }).version))),
  );
}

/** Send a Fetch of `version` (12–17) on `connection` and read its response here (compressed batches with the library's codecs). */
export function sendFetch(mod: PltModule, connection: Plt.Connection, version: number, r: FetchRequest, from: FetchPositions): Promise<FetchResponseData> {
  const decompress = libraryDecompress(mod);
  const createRequest = (mod as unknown as Record<string, { createRequest?: (...args: unknown[]) => unknown } | undefined>)[`fetchV${version}`]?.createRequest;
  if (!createRequest) return Promise.reject(new mod.UnsupportedApiError(`Fetch v${version} is not implemented by this @platformatic/kafka`));
  return new Promise((resolve, reject) => {
    connection.send(
      FETCH_API_KEY,
      version,
      () => createRequest(r.maxWaitTime, r.minBytes, r.maxBytes, r.isolationLevel, 0, 0, r.topics, [], '') as never,
      ((_correlationId: number, _apiKey: number, _apiVersion: number, reader: ResponseReader) =>
        readFetchResponse(mod, version, reader.buffer.slice(reader.position, reader.buffer.length), from, decompress)) as never,
      true,
      true,
      (err: unknown, response: unknown) => (err ? reject(err) : resolve(response as FetchResponseData)),
    );
  });
}
