import { DecodeError } from '../errors.js';
import { validateJob } from '../jobs/job.js';
import type { Headers, Job, JobFailure } from '../jobs/types.js';
import type { Message } from '../eventbus/types.js';
import { setHeader } from '../eventbus/header-record.js';
import { H, RESERVED_HEADERS } from './names.js';
import { formatRfc3339, parseRfc3339 } from './time.js';
import { failureHeaders, MAX_REASON_BYTES, truncateUtf8 } from './dead-letter.js';

/**
 * The message key of a job: `partitionKey`, else `tenant:name`, else `name:id`, else `id`.
 * Equal keys land on one partition and are processed in order.
 */
export function messageKeyOf(job: Pick<Job, 'partitionKey' | 'tenantId' | 'name' | 'id'>): string {
  if (job.partitionKey) return job.partitionKey;
  if (job.tenantId && job.name) return `${job.tenantId}:${job.name}`;
  if (job.name && job.id) return `${job.name}:${job.id}`;
  return job.id;
}

/**
 * Encode a job as a bus message: the `job_*` headers (reserved ones overwrite user headers
 * of the same name), the payload as value, and the partition key as key.
 */
export function encodeJob(job: Job): Message {
  validateJob(job);
  // fromEntries defines own properties, so a header named `__proto__` stays a header.
  const headers: Record<string, string> = userHeadersOf(job.headers);
  headers[H.id] = job.id;
  headers[H.name] = job.name;
  headers[H.queue] = job.queue;
  const runAt = formatRfc3339(job.runAt, 'runAt');
  headers[H.runAt] = runAt;
  headers[H.attempt] = String(job.attempt);
  headers[H.maxAttempts] = String(job.maxAttempts);
  // A new job's createdAt is its runAt: format once.
  headers[H.createdAt] = job.createdAt.getTime() === job.runAt.getTime() ? runAt : formatRfc3339(job.createdAt, 'createdAt');
  if (job.contentType) headers[H.contentType] = job.contentType;
  if (job.tenantId) {
    headers[H.tenantId] = job.tenantId;
    headers[H.tenantIdAlias] = job.tenantId;
  }
  if (job.correlationId) {
    headers[H.correlationId] = job.correlationId;
    headers[H.correlationIdAlias] = job.correlationId;
  }
  if (job.idempotencyKey) headers[H.idempotencyKey] = job.idempotencyKey;
  if (job.partitionKey) headers[H.partitionKey] = job.partitionKey;
  if (job.failure) Object.assign(headers, failureHeaders(job.failure.reason, job.failure.failedAt));
  return { key: messageKeyOf(job), value: job.payload, headers };
}

/** The non-reserved headers, as own properties (a header named `__proto__` is kept as data). */
function userHeadersOf(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  // for-in with hasOwn: the keys Object.keys gives, without an array of them per job.
  for (const k in headers) {
    if (!Object.hasOwn(headers, k) || RESERVED_HEADERS.has(k)) continue;
    setHeader(out, k, headers[k]!);
  }
  return out;
}

function parseCount(headers: Readonly<Record<string, string>>, name: string): number | undefined {
  const raw = headers[name];
  if (raw === undefined || raw === '') return undefined;
  // Fast path for what encodeJob writes (a few digits): read them without trim, regex or Number.
  if (raw.length <= 15) {
    let n = 0;
    let i = 0;
    for (; i < raw.length; i++) {
      const d = raw.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
    }
    if (i === raw.length) return n;
  }
  const text = raw.trim();
  // Up to 2^53-1: every count validateJob accepts must decode (D2).
  const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new DecodeError(name, `must be a non-negative decimal integer up to 2^53-1, got ${JSON.stringify(raw.slice(0, 32))}`);
  }
  return n;
}

function required(headers: Readonly<Record<string, string>>, name: string): string {
  const v = headers[name];
  if (v === undefined || v.trim() === '') throw new DecodeError(name, 'header is missing or empty');
  return v;
}

/**
 * The failure a retry copy carries: present when `job_failure_reason` is. The reason is cut as
 * encode cuts it (so a decoded job encodes to itself); a missing or unreadable `job_failed_at`
 * (a foreign producer's) reads as `now` rather than making the job a poison message, as this
 * is metadata, not something the job's handling depends on.
 */
function failureOf(h: Readonly<Record<string, string>>, now: number): JobFailure | undefined {
  const reason = h[H.failureReason];
  if (reason === undefined) return undefined;
  let failedAt: Date | undefined;
  const text = h[H.failedAt];
  if (text) {
    try {
      failedAt = parseRfc3339(text, H.failedAt);
    } catch {
      /* read as now, below */
    }
  }
  return { reason: truncateUtf8(reason, MAX_REASON_BYTES), failedAt: failedAt ?? new Date(now) };
}

/**
 * Decode a bus message into a job. `fallbackQueue` (the topic it was consumed from) is used
 * when `job_queue` is absent, `now` (epoch ms) when `job_run_at` is. Throws a {@link DecodeError} naming the header that is missing
 * or malformed; such a message is a poison message for the caller to dead-letter.
 */
export function decodeJob(message: Message, fallbackQueue: string, now: number = Date.now()): Job {
  const h = message.headers;
  const id = required(h, H.id);
  const name = required(h, H.name);
  const queue = h[H.queue]?.trim() ? h[H.queue]! : fallbackQueue;
  const runAt = h[H.runAt] ? parseRfc3339(h[H.runAt]!, H.runAt) : new Date(now);
  const createdAtText = h[H.createdAt];
  const createdAt = !createdAtText || createdAtText === h[H.runAt] ? runAt : parseRfc3339(createdAtText, H.createdAt);
  const attempt = parseCount(h, H.attempt) ?? 0;
  const maxAttempts = parseCount(h, H.maxAttempts) ?? 0;
  if (maxAttempts > 0 && attempt > maxAttempts) {
    throw new DecodeError(H.attempt, `attempt ${attempt} exceeds ${H.maxAttempts} ${maxAttempts}`);
  }
  if (!(message.value instanceof Uint8Array) || message.value.byteLength === 0) {
    throw new DecodeError('value', 'payload is empty');
  }
  const userHeaders: Headers = userHeadersOf(h);
  const contentType = h[H.contentType];
  const tenantId = h[H.tenantId] || h[H.tenantIdAlias];
  const correlationId = h[H.correlationId] || h[H.correlationIdAlias];
  const idempotencyKey = h[H.idempotencyKey];
  const partitionKey = h[H.partitionKey];
  const failure = failureOf(h, now);
  // The common job (a content type, none of the optional fields) as one literal: spreading
  // conditional objects costs an allocation and a copy per field per delivered job.
  if (contentType && !tenantId && !correlationId && !idempotencyKey && !partitionKey && !failure) {
    return { id, name, queue, payload: message.value, headers: userHeaders, contentType, runAt, attempt, maxAttempts, createdAt };
  }
  const job: Job = {
    id,
    name,
    queue,
    payload: message.value,
    headers: userHeaders,
    ...(contentType ? { contentType } : {}),
    ...(tenantId ? { tenantId } : {}),
    ...(correlationId ? { correlationId } : {}),
    ...(idempotencyKey ? { idempotencyKey } : {}),
    ...(partitionKey ? { partitionKey } : {}),
    runAt,
    attempt,
    maxAttempts,
    createdAt,
    ...(failure && { failure }),
  };
  return job;
}
