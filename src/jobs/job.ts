import { ValidationError } from '../errors.js';
import { newJobId } from './id.js';
import type { Headers, Job } from './types.js';

/** Fields accepted by {@link createJob}; everything but name, queue and payload has a default. */
export interface JobInput {
  /** Defaults to a new UUIDv7. */
  id?: string;
  name: string;
  queue: string;
  /** Bytes, a string (UTF-8) or any JSON-serialisable value (encoded as JSON). */
  payload: Uint8Array | string | JsonValue;
  headers?: Headers;
  /** Defaults to `application/json` for JSON values, `text/plain` for strings. */
  contentType?: string;
  tenantId?: string;
  correlationId?: string;
  idempotencyKey?: string;
  partitionKey?: string;
  /** Defaults to now. */
  runAt?: Date;
  /** Defaults to 0. */
  attempt?: number;
  /** Most attempts for this job; defaults to 0, meaning the worker's `retry.maxAttempts` decides. */
  maxAttempts?: number;
  /** Defaults to now. */
  createdAt?: Date;
}

/** A JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * UTF-8 bytes of `text`. `Buffer.from` (a Uint8Array) writes small strings into Node's shared
 * pool instead of a new ArrayBuffer per payload as `TextEncoder` does, about twice as fast; the
 * bytes are the same (a lone surrogate becomes U+FFFD either way).
 */
function utf8Bytes(text: string): Uint8Array {
  return Buffer.from(text, 'utf8');
}

/** Turn a payload given as bytes, text or JSON into bytes plus its default content type. */
export function encodePayload(payload: Uint8Array | string | JsonValue): { bytes: Uint8Array; contentType: string } {
  if (payload instanceof Uint8Array) return { bytes: payload, contentType: 'application/octet-stream' };
  if (typeof payload === 'string') return { bytes: utf8Bytes(payload), contentType: 'text/plain; charset=utf-8' };
  return { bytes: utf8Bytes(JSON.stringify(payload)), contentType: 'application/json' };
}

/** Build a complete, validated {@link Job} from the fields a caller cares about. */
export function createJob(input: JobInput): Job {
  const now = new Date();
  const { bytes, contentType } = encodePayload(input.payload);
  const id = input.id ?? newJobId(now.getTime());
  const headers = input.headers ? { ...input.headers } : {};
  const runAt = input.runAt ?? now;
  const attempt = input.attempt ?? 0;
  const maxAttempts = input.maxAttempts ?? 0;
  const createdAt = input.createdAt ?? now;
  const { tenantId, correlationId, idempotencyKey, partitionKey } = input;
  let job: Job;
  if (tenantId === undefined && correlationId === undefined && idempotencyKey === undefined && partitionKey === undefined) {
    // The common job as one literal, properties in the same order: after a spread, each
    // property is added to the object one at a time.
    job = { id, name: input.name, queue: input.queue, payload: bytes, headers, contentType: input.contentType ?? contentType, runAt, attempt, maxAttempts, createdAt };
  } else {
    job = {
      id,
      name: input.name,
      queue: input.queue,
      payload: bytes,
      headers,
      contentType: input.contentType ?? contentType,
      ...(tenantId !== undefined && { tenantId }),
      ...(correlationId !== undefined && { correlationId }),
      ...(idempotencyKey !== undefined && { idempotencyKey }),
      ...(partitionKey !== undefined && { partitionKey }),
      runAt,
      attempt,
      maxAttempts,
      createdAt,
    };
  }
  validateJob(job);
  return job;
}

/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the instants a four-digit year spans. */
const FIRST_MS = Date.parse('0000-01-01T00:00:00.000Z');
const LAST_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** A date the wire format can carry: RFC 3339 with a four-digit year (its time compared, not its year: cheaper). */
function validDate(d: unknown): boolean {
  if (!(d instanceof Date)) return false;
  const t = d.getTime();
  return t >= FIRST_MS && t <= LAST_MS; // false for NaN
}

/** A non-blank string field, else a ValidationError naming it. */
function requireText(field: 'id' | 'name' | 'queue', value: unknown): void {
  if (typeof value !== 'string') throw new ValidationError(field, `is required (got ${JSON.stringify(value)})`);
  // A printable ASCII first character is not white space: no trim needed (ids, names, queues).
  const first = value.charCodeAt(0);
  if (first > 32 && first < 127) return;
  if (value.trim() === '') {
    throw new ValidationError(field, `is required (got ${JSON.stringify(value)})`);
  }
}

/**
 * Check a job against the contract's rules: id, name and queue non-blank;
 * payload non-empty; attempt >= 0; maxAttempts >= 0; attempt <= maxAttempts when
 * maxAttempts > 0; a failure, when present, with a string reason and a valid failedAt.
 * Throws a {@link ValidationError} naming the first bad field.
 */
export function validateJob(job: Job): void {
  requireText('id', job.id);
  requireText('name', job.name);
  requireText('queue', job.queue);
  if (!(job.payload instanceof Uint8Array) || job.payload.byteLength === 0) {
    throw new ValidationError('payload', 'must be non-empty bytes');
  }
  // Safe integers only: the codec must read back every count it writes (D2).
  if (!Number.isSafeInteger(job.attempt) || job.attempt < 0) {
    throw new ValidationError('attempt', `must be an integer >= 0 and <= 2^53-1 (got ${job.attempt})`);
  }
  if (!Number.isSafeInteger(job.maxAttempts) || job.maxAttempts < 0) {
    throw new ValidationError('maxAttempts', `must be an integer >= 0 and <= 2^53-1 (got ${job.maxAttempts})`);
  }
  if (job.maxAttempts > 0 && job.attempt > job.maxAttempts) {
    throw new ValidationError('attempt', `must be <= maxAttempts (${job.attempt} > ${job.maxAttempts})`);
  }
  if (!validDate(job.runAt)) throw new ValidationError('runAt', `must be a valid Date in years 0000-9999 (got ${String(job.runAt)})`);
  if (!validDate(job.createdAt)) throw new ValidationError('createdAt', `must be a valid Date in years 0000-9999 (got ${String(job.createdAt)})`);
  if (job.failure !== undefined) {
    if (job.failure === null || typeof job.failure !== 'object' || typeof job.failure.reason !== 'string') {
      throw new ValidationError('failure.reason', 'must be a string');
    }
    if (!validDate(job.failure.failedAt)) {
      throw new ValidationError('failure.failedAt', `must be a valid Date in years 0000-9999 (got ${String(job.failure.failedAt)})`);
    }
  }
  if (job.headers === null || typeof job.headers !== 'object') {
    throw new ValidationError('headers', 'must be an object of string values');
  }
  const headers: Readonly<Record<string, unknown>> = job.headers;
  // for-in with hasOwn: the keys Object.keys gives, without an array of them per job.
  for (const k in headers) {
    if (!Object.hasOwn(headers, k)) continue;
    const v = headers[k];
    if (typeof v !== 'string') throw new ValidationError(`headers.${k}`, `must be a string (got ${typeof v})`);
  }
}

/** A copy of `job` with some fields replaced (jobs are immutable). */
export function withJob(job: Job, changes: Partial<Job>): Job {
  return { ...job, ...changes };
}
