/**
 * Kafka record <-> bus {@link Message} conversion. Header values on Kafka are bytes, the bus
 * contract has strings: valid UTF-8 is decoded as such; any other header value is delivered
 * base64-encoded and its name listed in {@link BINARY_HEADERS}, and publishing such a message
 * (e.g. to a DLQ) turns those values back into the original bytes. So a poison message reaches
 * its handler and can be dead-lettered byte for byte.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { setHeader } from '../header-record.js';
import type { Message } from '../types.js';

/** Header listing (comma-separated) the headers whose values are base64 of non-UTF-8 bytes. */
export const BINARY_HEADERS = 'jobbus_binary_headers';
/** Delay header: absolute due time, epoch milliseconds (decimal). */
export const DUE_AT_HEADER = 'jobbus_due_at';
/** Delay header: the topic a delayed message is finally delivered to. */
export const TARGET_HEADER = 'jobbus_target';

/** A header value as a Kafka client hands it over (kafkajs: Buffer, or an array for a repeated name). */
export type RawHeaderValue = Uint8Array | string | readonly (Uint8Array | string)[] | null | undefined;

function asBuffer(v: Uint8Array | string): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * Decode consumed record headers. A repeated header name keeps its last value (Java's
 * `lastHeader`); a null value becomes ''.
 */
export function decodeHeaders(raw: Readonly<Record<string, RawHeaderValue>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  const binary: string[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (name === BINARY_HEADERS) continue; // recomputed below; a foreign one cannot be trusted
    let v: Uint8Array | string | null | undefined;
    if (Array.isArray(value)) v = value.length ? (value[value.length - 1] as Uint8Array | string) : undefined;
    else v = value as Uint8Array | string | null | undefined;
    if (name === '__proto__') {
      setHeader(out, name, headerText(v));
    } else if (v === null || v === undefined) {
      out[name] = '';
    } else if (typeof v === 'string') {
      out[name] = v;
    } else {
      const buf = asBuffer(v);
      const text = buf.toString('utf8');
      // Invalid UTF-8 decodes to U+FFFD; only then pay for the exact check (a real U+FFFD is valid).
      if (!text.includes('\uFFFD') || isUtf8(buf)) out[name] = text;
      else {
        out[name] = buf.toString('base64');
        binary.push(name);
      }
    }
  }
  if (binary.length) out[BINARY_HEADERS] = binary.join(',');
  return out;
}

function headerText(v: Uint8Array | string | null | undefined): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : asBuffer(v).toString('utf8');
}

/**
 * Encode bus headers for a Kafka record, restoring base64-carried binary values (see
 * {@link BINARY_HEADERS}). Plain values stay strings: the client writes them as UTF-8 straight
 * into the request buffer (no Buffer per header on the hot path).
 */
export function encodeHeaders(headers: Readonly<Record<string, string>>): Record<string, string | Buffer> {
  const marker = headers[BINARY_HEADERS];
  if (marker === undefined) return headers as Record<string, string>;
  const binary = new Set(marker.split(',').filter(Boolean));
  const out: Record<string, string | Buffer> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name === BINARY_HEADERS) continue;
    setHeader(out, name, binary.has(name) ? Buffer.from(value, 'base64') : value);
  }
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
  return typeof key === 'string' ? key : asBuffer(key).toString('utf8');
}

/** Build a bus message from a consumed record. Never throws on odd input. */
export function toMessage(
  key: Uint8Array | string | null | undefined,
  value: Uint8Array | null | undefined,
  headers: Readonly<Record<string, RawHeaderValue>> | undefined,
): Message {
  const k = decodeKey(key);
  const m: { key?: string; value: Uint8Array; headers: Record<string, string> } = {
    value: toBytes(value),
    headers: decodeHeaders(headers),
  };
  if (k !== undefined) m.key = k;
  return m;
}
