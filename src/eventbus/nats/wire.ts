/**
 * Message <-> NATS message headers.
 *
 * NATS has no message key, so the key travels in the `jobbus_key` header; a delayed
 * message carries its due time in `jobbus_due_at` (epoch ms). Both are removed again on
 * delivery, so a handler sees exactly the headers that were published. Headers named
 * `Nats-*` belong to the transport (e.g. the stored `Nats-Msg-Id`): they are dropped on
 * delivery and on publish, so a retry or DLQ copy of a delivered message never carries the
 * original's dedup id.
 *
 * NATS header values are single-line and trimmed by the client; a value that would not
 * survive that (CR/LF, leading/trailing whitespace, empty) is percent-encoded behind the
 * marker `%jb%` and decoded on delivery, so header values round-trip exactly.
 *
 * Header bytes that are not valid UTF-8 (a foreign producer) are decoded lossily by the
 * client; {@link invalidHeaderNames} finds them in the raw header block so the delivered
 * message names them in `invalidHeaders` instead of passing a silently altered value on.
 * The key header is the exception: a key is decoded lossily, as the Kafka bus does.
 */
import type { Msg, MsgHdrs } from '@nats-io/nats-core';
import { DUE_AT_HEADER } from '../delivery.js';
import { setHeader } from '../header-record.js';
import { ValidationError } from '../../errors.js';
import type { Message } from '../types.js';
import { EncodedHeaders } from './encoded-headers.js';
import { splitRefusedBlock } from './refused-headers.js';

export { EncodedHeaders };

/** Header carrying {@link Message.key}. */
export const KEY_HEADER = 'jobbus_key';
/** Header carrying the earliest delivery time (epoch ms) of a delayed message (one name on every bus). */
export { DUE_AT_HEADER };
/**
 * Header of a delayed message a relay moved to another tier: the identity of the first
 * delay-stream message of its chain (see relay.ts), so that every copy forwards with one dedup id.
 */
export const RELAY_ORIGIN_HEADER = 'jobbus_relay_origin';

/**
 * Most header bytes a job may bring (see `EventBus.maxHeaderBytes`): JetStream refuses a header
 * block over 65 535 bytes (error 10097), and what the bus itself adds (the `NATS/1.0` line,
 * Nats-Msg-Id, the due time, the relay origin, the key's header name) stays within 1 KiB.
 */
export const MAX_HEADER_BYTES = 65_535 - 1_024;

/** Headers of the delay machinery: never copied from a message's headers, seen only by relays. */
const isDelayHeader = (name: string): boolean => name === DUE_AT_HEADER || name === RELAY_ORIGIN_HEADER;

const ESCAPE_MARK = '%jb%';
const NEEDS_ESCAPE = /^\s|\s$|[\r\n]/;
const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

function isTransportHeader(name: string): boolean {
  // First character before the slice: nearly every header is not one.
  const c = name.charCodeAt(0);
  return (c === 78 || c === 110) && name.length >= 5 && name.slice(0, 5).toLowerCase() === 'nats-';
}

function encodeValue(v: string): string {
  return v === '' || NEEDS_ESCAPE.test(v) || v.startsWith(ESCAPE_MARK) ? ESCAPE_MARK + encodeURIComponent(v) : v;
}

function decodeValue(v: string): string {
  if (!v.startsWith(ESCAPE_MARK)) return v;
  try {
    return decodeURIComponent(v.slice(ESCAPE_MARK.length));
  } catch {
    return v; // not ours after all: hand it over untouched
  }
}

/** A header name NATS can carry, or a ValidationError. */
function checkName(name: string): void {
  if (!HEADER_NAME.test(name)) {
    throw new ValidationError(`headers.${name}`, 'NATS header names must be printable ASCII without spaces or colons');
  }
}

/** A header value of the job, or a ValidationError. */
function checkValue(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') {
    throw new ValidationError(`headers.${name}`, `header values must be strings, got ${typeof value}`);
  }
}

/**
 * Fill `into` (a fresh NATS header set) from a message. `dueAt` (epoch ms) marks a delayed
 * message, `relayOrigin` one a relay moved. Throws a {@link ValidationError} for a header name
 * NATS cannot carry. (The publish path uses {@link encodeHeaders}, which writes the same bytes.)
 */
export function writeHeaders(into: MsgHdrs, message: Message, dueAt: number | undefined, relayOrigin?: string): void {
  for (const [name, value] of Object.entries(message.headers)) {
    if (isTransportHeader(name) || name === KEY_HEADER || isDelayHeader(name)) continue;
    checkName(name);
    checkValue(name, value);
    into.set(name, encodeValue(value));
  }
  if (message.key !== undefined) into.set(KEY_HEADER, encodeValue(message.key));
  if (dueAt !== undefined) into.set(DUE_AT_HEADER, String(dueAt));
  if (relayOrigin !== undefined) into.set(RELAY_ORIGIN_HEADER, relayOrigin);
}

const HEADER_LINE = 'NATS/1.0';

/**
 * The header block of a message as {@link writeHeaders} followed by `set('Nats-Msg-Id', msgId)`
 * would write it, byte for byte, encoded once. Throws a {@link ValidationError} for a header name
 * NATS cannot carry. `msgId` must hold no CR or LF (the client refuses those: check first).
 */
export function encodeHeaders(message: Message, dueAt: number | undefined, relayOrigin: string | undefined, msgId: string | undefined): EncodedHeaders {
  let text = HEADER_LINE;
  const headers = message.headers;
  for (const name in headers) {
    if (!Object.prototype.hasOwnProperty.call(headers, name)) continue;
    if (isTransportHeader(name) || name === KEY_HEADER || isDelayHeader(name)) continue;
    checkName(name);
    const value: unknown = headers[name];
    checkValue(name, value);
    text += `\r\n${name}: ${encodeValue(value)}`;
  }
  // The client trims values (and refuses CR/LF): the same here, so the bytes are the same.
  if (message.key !== undefined) text += `\r\n${KEY_HEADER}: ${encodeValue(message.key)}`;
  if (dueAt !== undefined) text += `\r\n${DUE_AT_HEADER}: ${String(dueAt)}`;
  if (relayOrigin !== undefined) text += `\r\n${RELAY_ORIGIN_HEADER}: ${relayOrigin.trim()}`;
  if (msgId !== undefined) text += `\r\n${MSG_ID_HEADER}: ${msgId.trim()}`;
  // No header at all: the client encodes an empty block (and still sends HPUB), so the same here.
  if (text.length === HEADER_LINE.length) return new EncodedHeaders('', new Uint8Array(0));
  text += '\r\n\r\n';
  // Buffer.from: a slice of Node's shared pool, not an ArrayBuffer of its own per message
  // (TextEncoder's); the same UTF-8 bytes (lone surrogates become U+FFFD in both).
  return new EncodedHeaders(text, Buffer.from(text, 'utf8'));
}

/** The JetStream dedup header. */
export const MSG_ID_HEADER = 'Nats-Msg-Id';

/** What a delivered NATS message carries for jobbus. */
export interface ReadMessage {
  /** The message as published. */
  readonly message: Message;
  /** Earliest delivery time (epoch ms), when the message was published delayed. */
  readonly dueAt: number | undefined;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/**
 * The raw header block of a received message (`NATS/1.0…\r\n\r\n`), or undefined when it has
 * none. Reads the client's message internals (nats-core 3.x `MsgImpl`): the public `headers`
 * are already decoded, lossily. Returns undefined if those internals ever change shape.
 */
export function rawHeaderBytes(msg: Msg): Uint8Array | undefined {
  const m = msg as unknown as { _rdata?: unknown; _msg?: { hdr?: unknown } };
  const hdr = m._msg?.hdr;
  if (!(m._rdata instanceof Uint8Array) || typeof hdr !== 'number' || hdr <= 0) return undefined;
  return m._rdata.subarray(0, hdr);
}

/**
 * Payload length of a received message without `msg.data` (a new Buffer view per call), from
 * the same client internals as {@link rawHeaderBytes}; `msg.data.length` if they change shape.
 */
export function payloadLength(msg: Msg): number {
  const m = msg as unknown as { _rdata?: unknown; _msg?: { hdr?: unknown } };
  const hdr = m._msg?.hdr;
  if (!(m._rdata instanceof Uint8Array) || typeof hdr !== 'number') return msg.data.length;
  return m._rdata.length - (hdr > 0 ? hdr : 0);
}

/** Names of the headers in a raw header block whose value bytes are not valid UTF-8. */
export function invalidHeaderNames(raw: Uint8Array): string[] {
  try {
    strictUtf8.decode(raw);
    return []; // the common case: one strict decode of the whole block
  } catch {
    // some value is bad: find which, line by line
  }
  const bad: string[] = [];
  let start = 0;
  let first = true;
  for (let i = 0; i <= raw.length; i++) {
    if (i < raw.length && !(raw[i] === 10 && raw[i - 1] === 13)) continue;
    const line = raw.subarray(start, i < raw.length ? i - 1 : i);
    start = i + 1;
    if (first) {
      first = false; // the status line
      continue;
    }
    const colon = line.indexOf(58);
    if (colon <= 0) continue;
    try {
      strictUtf8.decode(line.subarray(colon + 1));
    } catch {
      const name = latin1.decode(line.subarray(0, colon)).trim();
      if (!isTransportHeader(name) && !bad.includes(name)) bad.push(name);
    }
  }
  return bad;
}

/**
 * Turn a delivered NATS message back into a {@link Message}. `raw` is the message's raw header
 * block (see {@link rawHeaderBytes}): headers whose bytes are not UTF-8 are listed in
 * `invalidHeaders`. `keepDueAt` leaves the due-time and relay-origin headers in `headers` (for
 * the delay relays, which pass them on; a publish never copies them from `headers`).
 */
export function readMessage(data: Uint8Array, hdrs: MsgHdrs | undefined, raw?: Uint8Array, keepDueAt = false): ReadMessage {
  const headers: Record<string, string> = {};
  let key: string | undefined;
  let dueAt: number | undefined;
  if (hdrs) {
    for (const name of hdrs.keys()) {
      const value = hdrs.get(name);
      if (name === KEY_HEADER) key = decodeValue(value);
      else if (isDelayHeader(name)) {
        if (name === DUE_AT_HEADER) {
          const n = Number(value);
          if (Number.isFinite(n)) dueAt = n;
        }
        if (keepDueAt) setHeader(headers, name, value);
      } else if (!isTransportHeader(name)) setHeader(headers, name, decodeValue(value));
    }
  }
  // The key is not a header of the job: its bytes only steer ordering, and Kafka decodes a key
  // that is not UTF-8 lossily and runs the job. The same here, so a job is poison on both or neither.
  const invalid = raw ? invalidHeaderNames(raw).filter((n) => n !== KEY_HEADER) : [];
  return { message: { ...(key !== undefined && { key }), value: data, headers, ...(invalid.length > 0 && { invalidHeaders: invalid }) }, dueAt };
}

/** Whether `c` is a character `String.prototype.trim` removes (ECMAScript WhiteSpace and LineTerminator). */
function isTrimmed(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 160) return false;
  return c === 160 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

const BLOCK_START = `${HEADER_LINE}\r\n`;

/**
 * The header names of the last block read, by position: jobs carry the same names in the same
 * order, so a name is compared in place and reused instead of sliced (and, as a property key,
 * looked up in V8's string table) for every message.
 */
const recentNames: string[] = [];
const MAX_RECENT_NAMES = 64;

/**
 * {@link readMessage} of a message's decoded header block `text`, as the client's header set
 * (`MsgHdrsImpl.decode`) would have read it: lines split at CRLF, the name up to the first
 * colon, the value trimmed, lines without a colon skipped, the first value of a repeated name
 * counts. Works on offsets into `text` (one string per name and value, nothing per line).
 * Undefined for anything else — a status line, a lone CR or LF, a block not ending in an empty
 * line, a name character outside `!`..`~` (the client throws on the last two) — which the caller
 * leaves to the client.
 */
function readHeaderText(data: Uint8Array, text: string, keepDueAt: boolean): ReadMessage | undefined {
  if (!text.startsWith(BLOCK_START) || !text.endsWith('\r\n\r\n')) return undefined;
  const headers: Record<string, string> = {};
  let key: string | undefined;
  let dueAt: number | undefined;
  let dueSeen = false;
  let originSeen = false;
  let from = BLOCK_START.length;
  let n = 0;
  while (from < text.length) {
    const nl = text.indexOf('\n', from);
    const end = nl - 1; // the line is from..end, its CR at end
    if (nl < 0 || text.indexOf('\r', from) !== end) return undefined; // a lone CR or LF
    const line = from;
    from = nl + 1;
    const colon = text.indexOf(':', line);
    if (colon < 0 || colon > end) continue; // no colon (or an empty line): skipped
    let name = recentNames[n];
    if (name === undefined || name.length !== colon - line || !text.startsWith(name, line)) {
      for (let i = line; i < colon; i++) {
        const c = text.charCodeAt(i);
        if (c < 33 || c > 126) return undefined;
      }
      name = text.slice(line, colon);
      if (n < MAX_RECENT_NAMES) recentNames[n] = name;
    }
    n++;
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && isTrimmed(text.charCodeAt(vs))) vs++;
    while (ve > vs && isTrimmed(text.charCodeAt(ve - 1))) ve--;
    const value = text.slice(vs, ve);
    if (name === KEY_HEADER) {
      if (key === undefined) key = decodeValue(value);
    } else if (name === DUE_AT_HEADER) {
      if (dueSeen) continue;
      dueSeen = true;
      const n = Number(value);
      if (Number.isFinite(n)) dueAt = n;
      if (keepDueAt) setHeader(headers, name, value);
    } else if (name === RELAY_ORIGIN_HEADER) {
      if (originSeen) continue;
      originSeen = true;
      if (keepDueAt) setHeader(headers, name, value);
    } else if (!isTransportHeader(name) && !Object.prototype.hasOwnProperty.call(headers, name)) {
      setHeader(headers, name, decodeValue(value));
    }
  }
  return { message: key !== undefined ? { key, value: data, headers } : { value: data, headers }, dueAt };
}

/**
 * {@link readMessage} of a delivered message, reading its raw header block once instead of
 * through the client's header set (which splits, canonicalises and re-checks every name against
 * every other: a tenth of a busy bus's CPU). Falls back to the client's headers for whatever
 * this does not read the same way: bytes that are not UTF-8 (those go to `invalidHeaders`), a
 * status line, a name the client refuses, or client internals of another shape.
 */
export function readDelivered(msg: Msg, keepDueAt = false): ReadMessage {
  const raw = rawHeaderBytes(msg);
  const data = msg.data;
  if (raw !== undefined) {
    let text: string | undefined;
    try {
      text = strictUtf8.decode(raw);
    } catch {
      text = undefined; // some value is not UTF-8: the client's path names it
    }
    const read = text === undefined ? undefined : readHeaderText(data, text, keepDueAt);
    if (read) return read;
  }
  let hdrs: MsgHdrs | undefined;
  try {
    hdrs = msg.headers;
  } catch {
    // The client refuses a line (a name outside printable ASCII, CR or LF in a value); its throw
    // inside the subscription would stop the connection's reader. Poison instead (dead-lettered).
    return readRefusedBlock(data, raw, keepDueAt);
  }
  return readMessage(data, hdrs, raw, keepDueAt);
}

/**
 * {@link readMessage} of a block the client refuses: the lines it would accept as headers, the
 * others' names (quoted) in `invalidHeaders` (see refused-headers.ts).
 */
export function readRefusedBlock(data: Uint8Array, raw: Uint8Array | undefined, keepDueAt: boolean): ReadMessage {
  const { headers, refused } = splitRefusedBlock(raw, (name) => HEADER_NAME.test(name));
  const read = readMessage(data, headers, raw, keepDueAt);
  return { ...read, message: { ...read.message, invalidHeaders: [...(read.message.invalidHeaders ?? []), ...refused] } };
}
