/**
 * jobbus's reader of Kafka record batches and Fetch responses (record-batch.ts,
 * platformatic-fetch-response.ts), on bytes written here by the protocol's layout: offsets,
 * keys, values, timestamps (create and log-append time), control and compressed batches, a
 * batch cut off at the end, headers decoded exactly as the general path decodes them, the
 * response envelope of v12 and v13+ with tagged fields, error codes, and malformed input.
 */
import { Buffer } from 'node:buffer';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as Plt from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { readFetchResponse } from '../../src/eventbus/kafka/platformatic-fetch-response.js';
import { RecordBatchError, readRecordBatches, type Decompress } from '../../src/eventbus/kafka/record-batch.js';
import { decodeHeaderPairs, decodeHeaderValues, headersOfPairs, recordToMessage, toMessage, type HeaderPairs } from '../../src/eventbus/kafka/wire.js';
import { HEADER_CASES } from './header-cases.js';

/** Unsigned varint. */
function uvarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
/** Zigzag varint. */
const varint = (n: number): Buffer => uvarint(n >= 0 ? n * 2 : -n * 2 - 1);
const bytes = (b: Uint8Array | null): Buffer => (b === null ? varint(-1) : Buffer.concat([varint(b.length), b]));
const int = (n: number, size: 1 | 2 | 4 | 8): Buffer => {
  const b = Buffer.alloc(size);
  if (size === 1) b.writeInt8(n);
  else if (size === 2) b.writeInt16BE(n);
  else if (size === 4) b.writeInt32BE(n);
  else b.writeBigInt64BE(BigInt(n));
  return b;
};

interface TestRecord {
  key?: Buffer | null;
  value?: Buffer | null;
  headers?: HeaderPairs;
  timestampDelta?: number;
}

function record(r: TestRecord, offsetDelta: number, extra = Buffer.alloc(0)): Buffer {
  const headers = r.headers ?? [];
  const body = Buffer.concat([
    int(0, 1),
    varint(r.timestampDelta ?? offsetDelta),
    varint(offsetDelta),
    bytes(r.key === undefined ? null : r.key),
    bytes(r.value === undefined ? Buffer.from('v') : r.value),
    varint(headers.length),
    ...headers.flatMap(([k, v]) => [bytes(k ?? Buffer.alloc(0)), bytes(v)]),
    extra,
  ]);
  return Buffer.concat([varint(body.length), body]);
}

interface BatchOptions {
  attributes?: number;
  firstTimestamp?: number;
  maxTimestamp?: number;
  magic?: number;
  /** Records compressed with gzip (attributes | 1). */
  gzip?: boolean;
  rawRecords?: Buffer;
}

function batch(baseOffset: number, records: TestRecord[], o: BatchOptions = {}): Buffer {
  let recs = o.rawRecords ?? Buffer.concat(records.map((r, i) => record(r, i)));
  let attributes = o.attributes ?? 0;
  if (o.gzip) {
    recs = gzipSync(recs);
    attributes |= 1;
  }
  const afterLength = Buffer.concat([
    int(0, 4), // partition leader epoch
    int(o.magic ?? 2, 1),
    int(0, 4), // crc (not checked by readers)
    int(attributes, 2),
    int(Math.max(records.length - 1, 0), 4),
    int(o.firstTimestamp ?? 1_000, 8),
    int(o.maxTimestamp ?? 2_000, 8),
    int(-1, 8),
    int(-1, 2),
    int(-1, 4),
    int(records.length, 4),
    recs,
  ]);
  return Buffer.concat([int(baseOffset, 8), int(afterLength.length, 4), afterLength]);
}

const decompress: Decompress = (bitmask, data) => {
  if (bitmask !== 1) throw new Error(`codec ${bitmask}`);
  return gunzipSync(data);
};
const read = (buf: Buffer, from = 0) => readRecordBatches(buf, 0, buf.length, from, decompress);
const text = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString());

describe('record batches read by jobbus', () => {
  it('reads offsets, keys, values and timestamps; leaves out control batches and offsets below the position', () => {
    const buf = Buffer.concat([
      batch(10, [{ key: Buffer.from('k0') }, { key: null, value: null, timestampDelta: 7 }, { key: Buffer.alloc(0), value: Buffer.from('') }]),
      batch(13, [{ value: Buffer.from([0, 0, 0, 0]) }], { attributes: 1 << 5 }),
      batch(14, [{ value: Buffer.from('after') }], { attributes: 1 << 3, maxTimestamp: 9_999 }),
    ]);
    const all = read(buf);
    expect(all.nextOffset).toBe(15);
    expect(all.records.map((r) => [r.offset, text(r.key), text(r.value), r.timestamp])).toEqual([
      [10, 'k0', 'v', 1_000],
      [11, null, null, 1_007],
      [12, '', '', 1_002],
      [14, null, 'after', 9_999], // log-append time: the batch's max timestamp
    ]);
    expect(read(buf, 12).records.map((r) => r.offset)).toEqual([12, 14]);
    expect(read(buf, 13).records.map((r) => r.offset)).toEqual([14]);
    expect(read(Buffer.alloc(0))).toEqual({ records: [], nextOffset: undefined });
  });

  it('leaves a batch cut off at the end for the next fetch', () => {
    const whole = batch(0, [{ value: Buffer.from('a') }]);
    const second = batch(1, [{ value: Buffer.from('b') }]);
    for (let cut = 0; cut < second.length; cut++) {
      const got = read(Buffer.concat([whole, second.subarray(0, cut)]));
      expect(got.records.map((r) => r.offset)).toEqual([0]);
      expect(got.nextOffset).toBe(1);
    }
  });

  it('inflates compressed batches with the given codec', () => {
    const got = read(Buffer.concat([batch(5, [{ value: Buffer.from('x'.repeat(500)), headers: [[Buffer.from('h'), Buffer.from('1')]] }, {}], { gzip: true })]));
    expect(got.records.map((r) => [r.offset, text(r.value)?.length])).toEqual([
      [5, 500],
      [6, 1],
    ]);
    expect(got.records[0]!.decodeHeaders!().headers).toEqual({ h: '1' });
    expect(() => read(batch(0, [{}], { attributes: 4 }))).toThrow(/codec 4/);
  });

  it('decodes headers exactly as the general path does, and as the library records do', () => {
    for (const pairs of [...HEADER_CASES, ...HEADER_CASES]) {
      const [r] = read(batch(0, [{ headers: pairs }])).records;
      const label = JSON.stringify(pairs.map(([k, v]) => [k && Buffer.from(k).toString(), v && Buffer.from(v).toString()]));
      const fast = r!.decodeHeaders!();
      // The raw form: a null name reads as ''; values are views of the response.
      const general = decodeHeaderValues(r!.headers);
      expect(fast, label).toEqual(general);
      expect(Object.keys(fast.headers), label).toEqual(Object.keys(general.headers));
      expect(Object.getPrototypeOf(fast.headers)).toBe(Object.prototype);
      expect(fast, label).toEqual(decodeHeaderPairs(pairs));
      expect(r!.headers, label).toEqual(headersOfPairs(pairs.map(([k, v]) => [k ?? Buffer.alloc(0), v])));
      expect(recordToMessage(r!)).toEqual(toMessage(r!.key, r!.value, r!.headers));
    }
  });

  it('rejects malformed batches with a RecordBatchError (retryable, UNAVAILABLE)', () => {
    expect(new RecordBatchError('x')).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    expect(() => read(batch(0, [{}], { magic: 1 }))).toThrow(RecordBatchError);
    expect(() => read(batch(0, [{}], { rawRecords: record({}, 0, Buffer.from([1])) }))).toThrow(/longer than its fields/);
    expect(() => read(batch(0, [{}], { rawRecords: record({}, 0).subarray(0, 4) }))).toThrow(RecordBatchError);
    const short = Buffer.concat([int(0, 8), int(10, 4), Buffer.alloc(10)]);
    expect(() => read(short)).toThrow(/shorter than its header/);
  });
});

/** A compact string, array length or bytes length (n + 1). */
const compact = (n: number): Buffer => uvarint(n + 1);
const tagged = (...fields: [number, Buffer][]): Buffer => Buffer.concat([uvarint(fields.length), ...fields.flatMap(([tag, data]) => [uvarint(tag), uvarint(data.length), data])]);
const TOPIC_ID = '0123456789abcdef0123456789abcdef';

function partition(index: number, errorCode: number, records: Buffer | null): Buffer {
  return Buffer.concat([
    int(index, 4),
    int(errorCode, 2),
    int(100, 8), // high watermark
    int(100, 8), // last stable offset
    int(3, 8), // log start offset
    compact(1),
    int(42, 8),
    int(7, 8),
    tagged(), // one aborted transaction
    int(-1, 4), // preferred read replica
    records === null ? uvarint(0) : Buffer.concat([compact(records.length), records]),
    tagged([0, Buffer.alloc(12)], [1, Buffer.alloc(8)]), // diverging epoch, current leader
  ]);
}

function response(version: number, errorCode: number, partitions: Buffer[]): Buffer {
  const topic = version >= 13 ? Buffer.from(TOPIC_ID, 'hex') : Buffer.concat([compact(6), Buffer.from('orders')]);
  return Buffer.concat([
    int(0, 4), // throttle
    int(errorCode, 2),
    int(0, 4), // session id
    compact(1),
    topic,
    compact(partitions.length),
    ...partitions,
    tagged(),
    tagged([0, Buffer.from([1, 2, 3])]), // node endpoints (v16+), skipped
  ]);
}

describe('Fetch responses read by jobbus', () => {
  it('reads v13+ (topic ids) and v12 (topic names), skipping aborted transactions and tagged fields', () => {
    const records = batch(3, [{ value: Buffer.from('a') }, { value: Buffer.from('b') }]);
    const v17 = readFetchResponse(Plt, 17, response(17, 0, [partition(0, 0, records), partition(1, 0, null), partition(2, 0, records)]), (id, p) => (id.startsWith('0123') && p === 2 ? 4 : 0), decompress);
    expect(v17.responses).toHaveLength(1);
    expect(v17.responses[0]!.topicId).toBe('01234567-89ab-cdef-0123-456789abcdef');
    const [p0, p1, p2] = v17.responses[0]!.partitions;
    expect(p0).toMatchObject({ partitionIndex: 0, errorCode: 0, logStartOffset: 3 });
    expect(p0!.batches!.records.map((r) => text(r.value))).toEqual(['a', 'b']);
    expect(p0!.batches!.nextOffset).toBe(5);
    expect(p1!.batches).toBeUndefined();
    expect(p2!.batches!.records.map((r) => r.offset)).toEqual([4]); // fetched from 4
    const v12 = readFetchResponse(Plt, 12, response(12, 0, [partition(2, 0, records)]), () => 0, decompress);
    expect(v12.responses[0]!.topicId).toBe('orders');
    expect(v12.responses[0]!.partitions[0]!.batches!.records).toHaveLength(2);
  });

  it('throws the library error for error codes, carrying the whole response', () => {
    const body = response(17, 0, [partition(0, 0, batch(0, [{}])), partition(1, 6, null)]);
    let caught: unknown;
    try {
      readFetchResponse(Plt, 17, body, () => 0, decompress);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(Plt.ResponseError);
    const partial = (caught as { response: { responses: { partitions: { errorCode: number; batches?: unknown }[] }[] } }).response;
    expect(partial.responses[0]!.partitions.map((p) => p.errorCode)).toEqual([0, 6]);
    expect(partial.responses[0]!.partitions[0]!.batches).toBeDefined();
    expect(JSON.stringify((caught as { errors?: unknown }).errors ?? caught)).toMatch(/NOT_LEADER|6/);
    expect(() => readFetchResponse(Plt, 17, response(17, 58, []), () => 0, decompress)).toThrow(Plt.ResponseError);
    expect(() => readFetchResponse(Plt, 17, response(17, 0, [partition(0, 0, batch(0, [{}]))]).subarray(0, 40), () => 0, decompress)).toThrow(RecordBatchError);
  });
});
