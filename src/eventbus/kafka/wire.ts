/**
 * Kafka record <-> bus {@link Message} conversion. Header values on Kafka are bytes, the bus
 * contract has strings: valid UTF-8 is decoded as such. Any other header value is decoded
 * lossily (U+FFFD for each bad sequence) and its name listed in {@link Message.invalidHeaders}:
 * the jobs bridge treats such a message as poison on every bus, so a job never runs under a
 * header value that differs per bus. A republish (e.g. the DLQ copy) carries the lossy text.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { setHeader } from '../header-record.js';
import type { Message } from '../types.js';
import type { ConsumedRecord } from './port.js';

/** Delay header: absolute due time, epoch milliseconds (decimal); shared by every bus. */
export { DUE_AT_HEADER } from '../delivery.js';
/** Delay header: the topic a delayed message is finally delivered to. */
export const TARGET_HEADER = 'jobbus_target';

/**
 * Names (comma-separated) of headers that were not valid UTF-8 when a message was first
 * consumed, on a copy the bus republished itself (a redelivery through the delay topics): the
 * copy carries the lossy text, which is valid UTF-8, and must stay poison.
 */
export const INVALID_HEADERS_HEADER = 'jobbus_invalid_headers';

/** A header value as a Kafka client hands it over (kafkajs: Buffer, or an array for a repeated name). */
export type RawHeaderValue = Uint8Array | string | readonly (Uint8Array | string)[] | null | undefined;

function asBuffer(v: Uint8Array | string): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Decoded headers plus the names whose bytes were not valid UTF-8. */
export interface DecodedHeaders {
  readonly headers: Record<string, string>;
  /** Empty when every value was valid UTF-8. */
  readonly invalid: readonly string[];
}

/** The `invalid` of headers that were all valid: one shared empty list instead of an array per message. */
const NONE_INVALID: readonly string[] = Object.freeze([]);

/**
 * Decode consumed record headers strictly. A repeated header name keeps its last value (Java's
 * `lastHeader`); a null value becomes ''. Invalid UTF-8 is decoded lossily and named in `invalid`.
 */
export function decodeHeaderValues(raw: Readonly<Record<string, RawHeaderValue>> | undefined): DecodedHeaders {
  const headers: Record<string, string> = {};
  const invalid: string[] = [];
  if (!raw) return { headers, invalid };
  // Object.keys, not Object.entries: no [name, value] array per header (the consume hot path).
  const names = Object.keys(raw);
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const value = raw[name];
    let v: Uint8Array | string | null | undefined;
    if (Array.isArray(value)) v = value.length ? (value[value.length - 1] as Uint8Array | string) : undefined;
    else v = value as Uint8Array | string | null | undefined;
    let text: string;
    if (name === INVALID_HEADERS_HEADER) {
      const listed = headerText(v).split(',').filter(Boolean);
      for (const n of listed) if (!invalid.includes(n)) invalid.push(n);
      continue;
    }
    if (v === null || v === undefined) text = '';
    else if (typeof v === 'string') text = v;
    else {
      const buf = asBuffer(v);
      text = buf.toString(); // UTF-8 (the no-argument fast path), lossy: U+FFFD per invalid sequence; keeps a leading BOM
      // Strict check (as TextDecoder fatal) only when a U+FFFD shows up: a real U+FFFD is valid.
      if (text.includes('\uFFFD') && !isUtf8(buf)) invalid.push(name);
    }
    setHeader(headers, name, text); // setHeader: a header named __proto__ stays an ordinary header
  }
  return { headers, invalid };
}

/** Record headers as they come off the wire: (name, value) byte pairs in record order. */
export type HeaderPairs = readonly (readonly [Uint8Array | null, Uint8Array | null])[];

/**
 * Header pairs as a record of raw values: a repeated name keeps every value (an array, in
 * order), a null name is ''. Undefined when there are none.
 */
export function headersOfPairs(pairs: HeaderPairs): Record<string, RawHeaderValue> | undefined {
  if (pairs.length === 0) return undefined;
  const out: Record<string, RawHeaderValue> = {};
  for (const [k, v] of pairs) addRawHeader(out, k ? asBuffer(k).toString('utf8') : '', v);
  return out;
}

/** Add a header to a raw header record: a repeated name keeps every value, in order (a missing later value as empty bytes). */
export function addRawHeader(out: Record<string, RawHeaderValue>, name: string, value: Uint8Array | null): void {
  // Own properties only: any name can come from the wire, `__proto__` included.
  const prev = Object.prototype.hasOwnProperty.call(out, name) ? out[name] : undefined;
  if (prev === undefined) setHeader(out, name, value);
  else setHeader(out, name, Array.isArray(prev) ? [...(prev as Uint8Array[]), value ?? new Uint8Array(0)] : [prev as Uint8Array, value ?? new Uint8Array(0)]);
}

/**
 * Header names seen last at each position of a record, as bytes (a copy) and text. Records of
 * one producer carry the same names in the same order (`job_*`), so a name is usually its
 * predecessor's at the same position: comparing a few bytes is cheaper than decoding them, and
 * the same string each time makes the header record's property adds cheaper too.
 */
const seenNameBytes: Uint8Array[] = [];
const seenNames: string[] = [];
/** Positions remembered (records with more headers decode the rest each time). */
const SEEN_NAMES_MAX = 64;

/** The name of the header at `position` whose name bytes are `src[start..end)`. */
function headerName(src: Uint8Array, start: number, end: number, position: number): string {
  const len = end - start;
  const seen = position < SEEN_NAMES_MAX ? seenNameBytes[position] : undefined;
  if (seen !== undefined && seen.length === len) {
    let i = 0;
    while (i < len && seen[i] === src[start + i]) i++;
    if (i === len) return seenNames[position]!;
  }
  const name = asBuffer(src).toString(undefined, start, end); // no encoding: UTF-8 without the encoding lookup
  if (position < SEEN_NAMES_MAX && len <= 256) {
    seenNameBytes[position] = Uint8Array.from(src.subarray(start, end)); // a copy: never hold on to a fetch response's buffer
    seenNames[position] = name;
  }
  return name;
}

/** Longest header value remembered per position: job_* values (queue, name, counts, times, content type), not ids. */
const SEEN_VALUE_MAX = 32;
/** The last short, valid header value at each position: its bytes (in a slot of its own), length and text. */
const seenValueSlots: Uint8Array[] = [];
const seenValueLengths: number[] = [];
const seenValues: string[] = [];

/** The remembered text of the value at `position` when `src[start..end)` has the same bytes, else undefined. */
function seenValue(src: Uint8Array, start: number, end: number, position: number): string | undefined {
  const len = end - start;
  if (position >= SEEN_NAMES_MAX || len > SEEN_VALUE_MAX || seenValueLengths[position] !== len) return undefined;
  const slot = seenValueSlots[position]!;
  for (let i = 0; i < len; i++) if (slot[i] !== src[start + i]) return undefined;
  return seenValues[position];
}

/** Remember the valid value `text` of bytes `src[start..end)` at `position`, when short enough. */
function rememberValue(src: Uint8Array, start: number, end: number, position: number, text: string): void {
  const len = end - start;
  if (position >= SEEN_NAMES_MAX || len > SEEN_VALUE_MAX) return;
  // A copy (never hold on to a fetch response's buffer), byte by byte: at most 32, no view made.
  const slot = (seenValueSlots[position] ??= new Uint8Array(SEEN_VALUE_MAX));
  for (let i = 0; i < len; i++) slot[i] = src[start + i]!;
  seenValueLengths[position] = len;
  seenValues[position] = text;
}

/** Names of invalid values of the header decode running now (synchronous, never nested). */
let invalidNow: string[] | undefined;

/**
 * Decode one header into `headers`: the name `src[ns..ne)` and the value `vsrc[vs..ve)` (null:
 * no value) at `position` of its record. False, adding nothing, when the name is already there
 * or is {@link INVALID_HEADERS_HEADER}: the caller then takes the general path
 * ({@link decodeHeaderValues} of the raw form). Start a record with {@link startHeaderDecode},
 * end it with {@link endHeaderDecode}.
 */
export function decodeHeaderSpan(
  headers: Record<string, string>,
  position: number,
  src: Uint8Array,
  ns: number,
  ne: number,
  vsrc: Uint8Array | null,
  vs: number,
  ve: number,
): boolean {
  const name = ne > ns ? headerName(src, ns, ne, position) : '';
  if (headers[name] !== undefined || name === INVALID_HEADERS_HEADER) return false;
  let text: string | undefined;
  if (vsrc === null) text = '';
  else if ((text = seenValue(vsrc, vs, ve, position)) === undefined) {
    const buf = asBuffer(vsrc);
    text = buf.toString(undefined, vs, ve); // UTF-8 (no encoding: no lookup), lossy: U+FFFD per invalid sequence; keeps a leading BOM
    if (text.includes('\uFFFD') && !isUtf8(buf.subarray(vs, ve))) (invalidNow ??= []).push(name);
    else rememberValue(vsrc, vs, ve, position, text);
  }
  headers[name] = text; // not `__proto__`: that name reads as defined above
  return true;
}

/** Start decoding one record's headers with {@link decodeHeaderSpan}. */
export function startHeaderDecode(): void {
  invalidNow = undefined;
}

/** The decoded headers of the record started last. */
export function endHeaderDecode(headers: Record<string, string>): DecodedHeaders {
  const invalid = invalidNow ?? NONE_INVALID;
  invalidNow = undefined;
  return { headers, invalid };
}

/**
 * {@link decodeHeaderValues} of {@link headersOfPairs}, straight from the pairs: one record
 * object, no intermediate raw-header record, no Buffer views. Names equal to the previous
 * record's at the same position reuse its string (compared as bytes: the common, same-producer
 * path), and so are short values equal to the previous record's at the same position (a
 * producer's records repeat queue, name, counts and times; the text is the same either way).
 * A repeated name, an inherited one (`__proto__`, `constructor`…) or the invalid-headers list
 * takes the general path, so the result is the same in every case.
 */
export function decodeHeaderPairs(pairs: HeaderPairs): DecodedHeaders {
  const headers: Record<string, string> = {};
  startHeaderDecode();
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i]!; // indexed, not destructured: no iterator per header
    const k = pair[0];
    const v = pair[1];
    if (!decodeHeaderSpan(headers, i, k ?? EMPTY, 0, k ? k.length : 0, v, 0, v ? v.length : 0)) return decodeHeaderValues(headersOfPairs(pairs));
  }
  return endHeaderDecode(headers);
}

const EMPTY = new Uint8Array(0);

/** {@link decodeHeaderValues} without the list of invalid names. */
export function decodeHeaders(raw: Readonly<Record<string, RawHeaderValue>> | undefined): Record<string, string> {
  return decodeHeaderValues(raw).headers;
}

function headerText(v: Uint8Array | string | null | undefined): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : asBuffer(v).toString('utf8');
}

/**
 * Encode bus headers for a Kafka record. Values stay strings: the client writes them as UTF-8
 * straight into the request buffer (no Buffer per header on the hot path). A message delivered
 * with `invalidHeaders` keeps them through a republish ({@link INVALID_HEADERS_HEADER}).
 */
export function encodeHeaders(headers: Readonly<Record<string, string>>, invalidHeaders?: readonly string[]): Record<string, string> {
  if (!invalidHeaders?.length) return headers as Record<string, string>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) setHeader(out, k, v);
  out[INVALID_HEADERS_HEADER] = invalidHeaders.join(',');
  return out;
}

/** A zero-copy Uint8Array view of a client buffer (plain Uint8Array, not a Buffer subclass). */
export function toBytes(v: Uint8Array | null | undefined): Uint8Array {
  if (!v) return new Uint8Array(0);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Decode a record key. Non-UTF-8 key bytes are decoded lossily (the contract has string keys). */
export function decodeKey(key: Uint8Array | string | null | undefined): string | undefined {
  if (key === null || key === undefined) return undefined;
  return typeof key === 'string' ? key : asBuffer(key).toString();
}

/** Build a bus message from a consumed record (its driver's header decoding when it has one). Never throws on odd input. */
export function recordToMessage(r: ConsumedRecord): Message {
  return messageOf(r.key, r.value, r.decodeHeaders ? r.decodeHeaders() : decodeHeaderValues(r.headers));
}

/** Build a bus message from a consumed record's parts. Never throws on odd input. */
export function toMessage(
  key: Uint8Array | string | null | undefined,
  value: Uint8Array | null | undefined,
  headers: Readonly<Record<string, RawHeaderValue>> | undefined,
): Message {
  return messageOf(key, value, decodeHeaderValues(headers));
}

function messageOf(key: Uint8Array | string | null | undefined, value: Uint8Array | null | undefined, decoded: DecodedHeaders): Message {
  const k = decodeKey(key);
  // The key in the literal, not added afterwards: a property added later costs the message a
  // property array of its own (the key is set on nearly every job).
  const m: { key?: string; value: Uint8Array; headers: Record<string, string>; invalidHeaders?: readonly string[] } =
    k !== undefined ? { value: toBytes(value), headers: decoded.headers, key: k } : { value: toBytes(value), headers: decoded.headers };
  if (decoded.invalid.length) m.invalidHeaders = decoded.invalid;
  return m;
}
