/**
 * The body of a Kafka Produce request (versions 9–11, the flexible ones before topic ids) with
 * its record batches (message format v2, uncompressed, not transactional), written into one
 * buffer: the same bytes as `@platformatic/kafka`'s own encoder for the same messages
 * (`produceV<n>.createRequest`, checked byte for byte by the tests), without the writer, the
 * buffer list and the BigInt arithmetic it spends per record and per field. Knows nothing of
 * jobs; the platformatic driver decides when it applies (platformatic-produce.ts).
 */
import { Buffer } from 'node:buffer';
import { InvalidArgumentError } from '../../errors.js';

/** A record as the library's producer hands it to the Produce request (after its serialisers). */
export interface ProduceMessage {
  readonly topic: string;
  partition?: number;
  readonly key?: Uint8Array | null;
  readonly value?: Uint8Array | null;
  readonly headers?: ReadonlyMap<Uint8Array, Uint8Array | null | undefined>;
  /** Epoch ms (BigInt, as the library keeps it); set to now when missing, as the library does. */
  timestamp?: bigint | number;
}

/** What the request needs of the producer's state. */
export interface ProduceOptions {
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
  /** Next sequence number per `topic:partition` (idempotent producers). */
  readonly sequences?: { getWithDefault(key: string, fallback: number): number };
  readonly partitionLeaderEpoch?: number;
}

/** Groups as the library groups (its `groupByProperty`: buckets in its key order). */
export type GroupBy = <T, K extends keyof T>(entries: readonly T[], property: K) => [string, T[]][];

/** CRC-32C of bytes. */
export type Crc32c = (data: Buffer) => number;

/** The scratch buffer's first size, and the most it keeps between requests (a huge request's buffer is let go). */
const SCRATCH_START = 256 * 1024;
const SCRATCH_KEPT = 4 * 1024 * 1024;

/** A growing buffer written front to back (and back-patched: growing keeps every byte). */
class Out {
  buf = Buffer.allocUnsafe(SCRATCH_START);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next);
    this.buf = next;
  }

  int8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
  }

  int16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }

  int32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  int64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }

  /** Unsigned varint of a non-negative safe integer. */
  uvarint(v: number): void {
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  /** Zigzag varint (record fields; exact for |v| < 2^52). */
  varint(v: number): void {
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  /** Varint length and bytes; -1 for none. */
  varBytes(b: Uint8Array | null | undefined): void {
    if (b === null || b === undefined) {
      this.varint(-1);
      return;
    }
    if (!(b instanceof Uint8Array)) throw new InvalidArgumentError(`kafka: a record field must be bytes by now, not ${typeof b}`);
    this.varint(b.length);
    this.bytes(b);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Compact string (length + 1, then UTF-8); null writes 0. */
  compactString(s: string | null | undefined): void {
    if (s === null || s === undefined) {
      this.uvarint(0);
      return;
    }
    const n = Buffer.byteLength(s);
    this.uvarint(n + 1);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
}

/** Where requests are written (one at a time: encoding is synchronous), then copied out. */
const scratch = new Out();

/** Bytes a zigzag varint of `v` takes. */
function varintSize(v: number): number {
  let u = v >= 0 ? v * 2 : -v * 2 - 1;
  let n = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    n++;
  }
  return n;
}

/** One record, its length first (a zigzag varint of the rest). */
function writeRecord(out: Out, m: ProduceMessage, offsetDelta: number, timestampDelta: number): void {
  // The length is known only once the record is written: room for a 2-byte length (records of
  // 64 bytes to 8 KiB), moved when it takes another size.
  const start = out.pos;
  out.ensure(2);
  out.pos += 2;
  const body = out.pos;
  out.int8(0); // attributes
  out.varint(timestampDelta);
  out.varint(offsetDelta);
  out.varBytes(m.key);
  out.varBytes(m.value);
  const headers = m.headers;
  out.varint(headers ? headers.size : 0);
  if (headers)
    for (const [k, v] of headers) {
      out.varBytes(k);
      out.varBytes(v);
    }
  const length = out.pos - body;
  const lengthSize = varintSize(length);
  if (lengthSize !== 2) {
    out.ensure(lengthSize - 2);
    out.buf.copyWithin(start + lengthSize, body, out.pos);
    out.pos += lengthSize - 2;
  }
  const end = out.pos;
  out.pos = start;
  out.varint(length);
  out.pos = end;
}

/** One partition's record batch (what `records` holds in the request), its fields as the library writes them. */
function writeBatch(out: Out, messages: readonly ProduceMessage[], options: ProduceOptions, crc32c: Crc32c, nowMs: bigint): void {
  const first = messages[0]!;
  const firstTimestamp = toBigInt(first.timestamp ?? nowMs);
  let maxTimestamp = firstTimestamp;
  const batchStart = out.pos;
  out.int64(0n); // base offset
  out.int32(0); // length, written below
  out.int32(options.partitionLeaderEpoch ?? 0);
  out.int8(2); // magic
  out.int32(0); // crc, written below
  const attributesAt = out.pos; // the CRC covers the batch from here to its end
  out.int16(0);
  out.int32(messages.length - 1);
  out.int64(0n); // first timestamp, written below
  out.int64(0n); // max timestamp, written below
  out.int64(options.producerId ?? -1n);
  out.int16(options.producerEpoch ?? 0);
  out.int32(options.sequences ? options.sequences.getWithDefault(`${first.topic}:${first.partition}`, 0) : 0);
  out.int32(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const ts = toBigInt(m.timestamp ?? nowMs);
    m.timestamp = ts; // as the library: a retried request carries the same timestamps
    if (ts > maxTimestamp) maxTimestamp = ts;
    writeRecord(out, m, i, Number(ts - firstTimestamp));
  }
  out.buf.writeBigInt64BE(firstTimestamp, attributesAt + 6);
  out.buf.writeBigInt64BE(maxTimestamp, attributesAt + 14);
  out.buf.writeInt32BE(out.pos - batchStart - 12, batchStart + 8);
  out.buf.writeUInt32BE(crc32c(out.buf.subarray(attributesAt, out.pos)), attributesAt - 4);
}

function toBigInt(t: bigint | number): bigint {
  return typeof t === 'bigint' ? t : BigInt(t);
}

/**
 * The Produce request body (v9–v11): transactional id (none), acks, timeout, then per topic and
 * partition (grouped as the library groups them) one record batch. Sets a missing partition to 0
 * and a missing timestamp to now on the messages, as the library does.
 */
export function encodeProduceRequest(
  acks: number,
  timeoutMs: number,
  messages: readonly ProduceMessage[],
  options: ProduceOptions,
  crc32c: Crc32c,
  groupBy: GroupBy,
): Buffer {
  const now = BigInt(Date.now());
  for (const m of messages) {
    if (m.partition === undefined) m.partition = 0;
    if (m.timestamp === undefined) m.timestamp = now;
  }
  const out = scratch;
  out.pos = 0;
  out.compactString(null); // transactional id
  out.int16(acks);
  out.int32(timeoutMs);
  const topics = groupBy(messages, 'topic');
  out.uvarint(topics.length + 1);
  for (const [topic, ofTopic] of topics) {
    out.compactString(topic);
    const partitions = groupBy(ofTopic, 'partition');
    out.uvarint(partitions.length + 1);
    for (const [partition, batch] of partitions) {
      out.int32(Number(partition));
      // COMPACT_RECORDS: the batch's length + 1 as an unsigned varint before it.
      const lengthAt = out.pos;
      out.ensure(5);
      out.pos += 5;
      writeBatch(out, batch, options, crc32c, now);
      const size = out.pos - lengthAt - 5;
      const end = out.pos;
      out.pos = lengthAt;
      out.uvarint(size + 1);
      const lengthSize = out.pos - lengthAt;
      out.buf.copyWithin(out.pos, lengthAt + 5, end);
      out.pos = end - (5 - lengthSize);
      out.uvarint(0); // partition tagged fields
    }
    out.uvarint(0); // topic tagged fields
  }
  out.uvarint(0); // request tagged fields
  const request = Buffer.from(out.buf.subarray(0, out.pos)); // a copy of exactly the request
  if (out.buf.length > SCRATCH_KEPT) out.buf = Buffer.allocUnsafe(SCRATCH_START);
  return request;
}
