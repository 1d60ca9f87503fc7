/**
 * Message <-> NATS message headers, and the ids that drive server-side deduplication.
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
 */
import type { MsgHdrs } from '@nats-io/nats-core';
import { setHeader } from '../header-record.js';
import { ValidationError } from '../../jobs/errors.js';
import { H } from '../../headers/names.js';
import type { Message } from '../types.js';

/** Header carrying {@link Message.key}. */
export const KEY_HEADER = 'jobbus_key';
/** Header carrying the earliest delivery time (epoch ms) of a delayed message. */
export const DUE_AT_HEADER = 'jobbus_due_at';

const ESCAPE_MARK = '%jb%';
const NEEDS_ESCAPE = /^\s|\s$|[\r\n]/;
const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

function isTransportHeader(name: string): boolean {
  return name.length >= 5 && name.slice(0, 5).toLowerCase() === 'nats-';
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

/**
 * Fill `into` (a fresh NATS header set) from a message. `dueAt` (epoch ms) marks a delayed
 * message. Throws a {@link ValidationError} for a header name NATS cannot carry.
 */
export function writeHeaders(into: MsgHdrs, message: Message, dueAt: number | undefined): void {
  for (const [name, value] of Object.entries(message.headers)) {
    if (isTransportHeader(name) || name === KEY_HEADER || name === DUE_AT_HEADER) continue;
    if (!HEADER_NAME.test(name)) {
      throw new ValidationError(`headers.${name}`, 'NATS header names must be printable ASCII without spaces or colons');
    }
    if (typeof value !== 'string') {
      throw new ValidationError(`headers.${name}`, `header values must be strings, got ${typeof value}`);
    }
    into.set(name, encodeValue(value));
  }
  if (message.key !== undefined) into.set(KEY_HEADER, encodeValue(message.key));
  if (dueAt !== undefined) into.set(DUE_AT_HEADER, String(dueAt));
}

/** What a delivered NATS message carries for jobbus. */
export interface ReadMessage {
  /** The message as published. */
  readonly message: Message;
  /** Earliest delivery time (epoch ms), when the message was published delayed. */
  readonly dueAt: number | undefined;
}

/** Turn a delivered NATS message back into a {@link Message}. */
export function readMessage(data: Uint8Array, hdrs: MsgHdrs | undefined): ReadMessage {
  const headers: Record<string, string> = {};
  let key: string | undefined;
  let dueAt: number | undefined;
  if (hdrs) {
    for (const name of hdrs.keys()) {
      const raw = hdrs.get(name);
      if (name === KEY_HEADER) key = decodeValue(raw);
      else if (name === DUE_AT_HEADER) {
        const n = Number(raw);
        if (Number.isFinite(n)) dueAt = n;
      } else if (!isTransportHeader(name)) setHeader(headers, name, decodeValue(raw));
    }
  }
  return { message: { ...(key !== undefined && { key }), value: data, headers }, dueAt };
}

/**
 * Default `Nats-Msg-Id` of a message: `job_id|job_attempt|job_run_at` when it carries a job
 * id, else none (no deduplication).
 *
 * The job id alone is not enough: a retry copy (attempt + 1), a retry-later copy (same
 * attempt, later runAt) and a replay from the DLQ (attempt 0, new runAt) reuse the job id,
 * and deduplicating them away would lose the job. A DLQ copy goes to another stream, and
 * deduplication is per stream, so it never collides with its original. What remains equal
 * is a true duplicate: the same enqueue sent twice (a producer retry after a lost PubAck,
 * a scheduler firing the same tick twice), which the server drops within its duplicate window.
 */
export function defaultMsgId(_topic: string, message: Message): string | undefined {
  const id = message.headers[H.id];
  if (!id) return undefined;
  return `${id}|${message.headers[H.attempt] ?? ''}|${message.headers[H.runAt] ?? ''}`;
}
