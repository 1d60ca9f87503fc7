/**
 * Kafka record batches (message format v2, the only one Fetch v4+ brokers write since 0.11) read
 * straight from a fetch response's bytes into {@link ConsumedRecord}s: a record keeps its key and
 * value as views and where its headers are, and decodes them only when asked, straight into the
 * bus's header record (wire.ts {@link decodeHeaderSpan}). The library's own reader builds an
 * object per record, a `[name, value]` array and two Buffer views per header and a BigInt per
 * timestamp, which cost more than everything jobbus does with the record afterwards.
 * Compressed batches are inflated by the caller's `decompress` (the driver's codecs) and read
 * the same way; control batches (transaction markers) yield no records.
 */
import { Buffer } from 'node:buffer';
import { UnavailableError } from '../../errors.js';
import { addRawHeader, decodeHeaderSpan, decodeHeaderValues, endHeaderDecode, startHeaderDecode, type DecodedHeaders, type RawHeaderValue } from './wire.js';
import type { ConsumedRecord } from './port.js';

/** Inflate the records of a batch compressed with codec `bitmask` (attributes & 7). */
export type Decompress = (bitmask: number, data: Buffer) => Buffer;

/** The records of one partition's batches, and the offset after the last batch read. */
export interface ReadBatches {
  /** Data records at or above the requested offset, in offset order. */
  readonly records: ConsumedRecord[];
  /** One past the last offset of the batches read (control batches included); undefined when none was whole. */
  readonly nextOffset: number | undefined;
}

const COMPRESSION = 0b111;
const LOG_APPEND_TIME = 1 << 3;
/** Batch attribute of control batches (transaction markers). */
export const IS_CONTROL = 1 << 5;
/** firstOffset (8) + length (4): the part of a batch before what `length` counts. */
const BATCH_HEAD = 12;
/** From the batch start to the record count included: offset 8, length 4, leader epoch 4, magic 1, crc 4, attributes 2, last offset delta 4, two timestamps 16, producer id 8, epoch 2, sequence 4, count 4. */
const BATCH_HEADER = 61;

/**
 * A malformed batch or record (the bytes end before what they announce, or hold more): the fetch
 * fails and is tried again (`UNAVAILABLE`, retryable, as Kafka's Java client treats a corrupt
 * record), never read past.
 */
export class RecordBatchError extends UnavailableError {
  override readonly name = 'RecordBatchError';
}

/** A read position over one buffer. */
export class ByteCursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  need(n: number): void {
    if (this.pos + n > this.end) throw new RecordBatchError(`kafka: record bytes end ${this.pos + n - this.end} byte(s) early`);
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A signed 64-bit integer as a number (exact below 2^53: offsets and epoch-ms timestamps). */
  int64(): number {
    this.need(8);
    const v = this.buf.readInt32BE(this.pos) * 4_294_967_296 + this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    return v;
  }

  /** An unsigned varint (protocol lengths and counts), up to 2^53. */
  uvarint(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      this.need(1);
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
      if (mul > 2 ** 63) throw new RecordBatchError('kafka: varint longer than 10 bytes');
    }
  }

  /** A zigzag varint or varlong (record fields). */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
}

/**
 * A record read from a batch. Key and value are views of the response; headers are decoded from
 * it when read ({@link decodeHeaders}: the consume path; {@link headers}: browse and relays).
 */
class BatchRecord implements ConsumedRecord {
  #raw: Record<string, RawHeaderValue> | undefined | null = null;

  constructor(
    readonly offset: number,
    readonly key: Uint8Array | null,
    readonly value: Uint8Array | null,
    readonly timestamp: number,
    private readonly buf: Buffer,
    private readonly headersAt: number,
    private readonly headersEnd: number,
    private readonly headerCount: number,
  ) {}

  get headers(): Record<string, RawHeaderValue> | undefined {
    if (this.#raw === null) this.#raw = rawHeaders(new ByteCursor(this.buf, this.headersAt, this.headersEnd), this.headerCount);
    return this.#raw;
  }

  decodeHeaders(): DecodedHeaders {
    const headers: Record<string, string> = {};
    const buf = this.buf;
    // Checked when the record was read (readRecords walks its headers to its end): no bounds
    // checks and no cursor object here, on the hot path.
    at = this.headersAt;
    startHeaderDecode();
    for (let i = 0; i < this.headerCount; i++) {
      const nlen = Math.max(nextVarint(buf), 0);
      const ns = at;
      at += nlen;
      const vlen = nextVarint(buf);
      const vs = at;
      at += Math.max(vlen, 0);
      if (!decodeHeaderSpan(headers, i, buf, ns, ns + nlen, vlen < 0 ? null : buf, vs, vs + Math.max(vlen, 0))) {
        endHeaderDecode(headers);
        return decodeHeaderValues(this.headers);
      }
    }
    return endHeaderDecode(headers);
  }
}

/** Where the header walk running now reads ({@link decodeHeaders} is synchronous and never nested). */
let at = 0;

/** The zigzag varint at {@link at} of bytes already checked, moving past it. */
function nextVarint(buf: Buffer): number {
  let b = buf[at++]!;
  let u = b & 0x7f;
  for (let mul = 128; b >= 0x80; mul *= 128) {
    b = buf[at++]!;
    u += (b & 0x7f) * mul;
  }
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

/** The raw header record of {@link ConsumedRecord.headers}: a repeated name keeps every value, in order. */
function rawHeaders(c: ByteCursor, count: number): Record<string, RawHeaderValue> | undefined {
  if (count === 0) return undefined;
  const out: Record<string, RawHeaderValue> = {};
  const buf = c.buf;
  for (let i = 0; i < count; i++) {
    const nlen = c.varint();
    const name = nlen > 0 ? buf.toString('utf8', c.pos, c.pos + nlen) : '';
    c.skip(Math.max(nlen, 0));
    const vlen = c.varint();
    const value = vlen < 0 ? null : buf.subarray(c.pos, c.pos + vlen);
    c.skip(Math.max(vlen, 0));
    addRawHeader(out, name, value);
  }
  return out;
}

/**
 * Read the record batches in `buf[start..end)` (one partition's records of a fetch response),
 * leaving out control records and offsets below `from`. A batch cut off at the end (the broker
 * fills up to the fetch's byte limit) is left for the next fetch, as every client does.
 */
export function readRecordBatches(buf: Buffer, start: number, end: number, from: number, decompress: Decompress): ReadBatches {
  const records: ConsumedRecord[] = [];
  let nextOffset: number | undefined;
  let pos = start;
  while (end - pos >= BATCH_HEAD) {
    const length = buf.readInt32BE(pos + 8);
    if (end - pos - BATCH_HEAD < length) break;
    const batchEnd = pos + BATCH_HEAD + length;
    if (length < BATCH_HEADER - BATCH_HEAD) throw new RecordBatchError(`kafka: record batch of ${length} bytes is shorter than its header`);
    const c = new ByteCursor(buf, pos, batchEnd);
    const baseOffset = c.int64();
    c.skip(8); // length, partition leader epoch
    const magic = c.int8();
    if (magic !== 2) throw new RecordBatchError(`kafka: record batch format v${magic} is not supported (v2 since Kafka 0.11)`);
    c.skip(4); // crc
    const attributes = c.int16();
    const lastOffsetDelta = c.int32();
    const firstTimestamp = c.int64();
    const maxTimestamp = c.int64();
    c.skip(8 + 2 + 4); // producer id and epoch, base sequence
    const count = c.int32();
    nextOffset = baseOffset + lastOffsetDelta + 1;
    pos = batchEnd;
    if (attributes & IS_CONTROL || baseOffset + lastOffsetDelta < from) continue;
    // LogAppendTime topics: every record's time is the broker's, the batch's max timestamp.
    const appendTime = attributes & LOG_APPEND_TIME ? maxTimestamp : undefined;
    const compression = attributes & COMPRESSION;
    const inflated = compression ? decompress(compression, buf.subarray(c.pos, batchEnd)) : undefined;
    readRecords(inflated ? new ByteCursor(inflated, 0, inflated.length) : c, count, baseOffset, firstTimestamp, appendTime, from, records);
  }
  return { records, nextOffset };
}

/** Read `count` records of a batch from `c`, appending those at or above `from` to `out`. */
function readRecords(
  c: ByteCursor,
  count: number,
  baseOffset: number,
  firstTimestamp: number,
  appendTime: number | undefined,
  from: number,
  out: ConsumedRecord[],
): void {
  const buf = c.buf;
  for (let i = 0; i < count; i++) {
    const length = c.varint();
    const recordEnd = c.pos + length;
    if (length < 0 || recordEnd > c.end) throw new RecordBatchError(`kafka: record of ${length} bytes overruns its batch`);
    c.skip(1); // attributes (unused in v2)
    const timestampDelta = c.varint();
    const offset = baseOffset + c.varint();
    const klen = c.varint();
    const key = klen < 0 ? null : buf.subarray(c.pos, c.pos + klen);
    c.skip(Math.max(klen, 0));
    const vlen = c.varint();
    const value = vlen < 0 ? null : buf.subarray(c.pos, c.pos + vlen);
    c.skip(Math.max(vlen, 0));
    const headerCount = c.varint();
    if (headerCount < 0) throw new RecordBatchError(`kafka: record at offset ${offset} has ${headerCount} headers`);
    // Walked once here, so that decoding them later cannot run past the record.
    const headersAt = c.pos;
    for (let h = 0; h < headerCount; h++) {
      c.skip(Math.max(c.varint(), 0));
      c.skip(Math.max(c.varint(), 0));
    }
    if (c.pos !== recordEnd) throw new RecordBatchError(`kafka: record at offset ${offset} is ${recordEnd - c.pos} byte(s) longer than its fields`);
    if (offset >= from) out.push(new BatchRecord(offset, key, value, appendTime ?? firstTimestamp + timestampDelta, buf, headersAt, recordEnd, headerCount));
  }
}
