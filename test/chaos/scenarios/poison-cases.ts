/**
 * The bad input of the poison scenario (issue 14, scenario 7): messages a foreign or broken
 * producer may put on a queue, each marked with a `chaos_case` header (a user header, kept in
 * the dead-letter copy) so the scenario can find every one of them in the DLQ, and the good
 * jobs at the edges (near the size limit, huge headers, keys that are not UTF-8) that must run.
 */
import { createJob, type Job } from '../../../src/index.js';
import { encodeJob, HEADERS as H } from '../../../src/advanced.js';
import { failureHeadroomBytes } from '../../../src/headers/dead-letter.js';
import { messageBytes } from '../../../src/eventbus/message-size.js';
import type { RawHeader, RawMessage } from './poison-target.js';

/** Job name of every good job, and of bad messages that name one (so a wrongly decoded one would run and be seen). */
export const GOOD_NAME = 'poison-good';
/** The user header that marks a bad message: `<case>/<n>`. */
export const MARKER = 'chaos_case';

/** One kind of bad message. */
export interface BadCase {
  readonly name: string;
  /** Needs header or key bytes that are not UTF-8 (not expressible on the memory bus). */
  readonly bytes?: boolean;
  /** Some brokers refuse it at publish (then it never reached the broker and is counted as refused). */
  readonly mayBeRefused?: boolean;
  /** Poison on this bus only (elsewhere the same bytes are a well-formed job). */
  readonly only?: 'nats';
  build(queue: string, marker: string, maxBytes: number): RawMessage;
}

const te = new TextEncoder();

/** The headers of a well-formed job as a raw header list, with `change` applied (undefined = drop). */
function jobMessage(queue: string, marker: string, change: Record<string, string | Uint8Array | undefined>, payload = 'bad'): RawMessage {
  const m = encodeJob(createJob({ name: GOOD_NAME, queue, payload }));
  const headers: RawHeader[] = [];
  for (const [k, v] of Object.entries(m.headers)) if (!(k in change)) headers.push([k, v]);
  for (const [k, v] of Object.entries(change)) if (v !== undefined) headers.push([k, v]);
  headers.push([MARKER, marker]);
  return { ...(m.key !== undefined && { key: m.key }), value: m.value, headers };
}

/** Every bad case, in publishing order. */
export const BAD_CASES: readonly BadCase[] = [
  { name: 'no-job-headers', build: (_q, marker) => ({ key: 'k', value: te.encode('{}'), headers: [[MARKER, marker]] }) },
  { name: 'missing-id', build: (q, marker) => jobMessage(q, marker, { [H.id]: undefined }) },
  { name: 'missing-name', build: (q, marker) => jobMessage(q, marker, { [H.name]: undefined }) },
  { name: 'blank-id', build: (q, marker) => jobMessage(q, marker, { [H.id]: '   ' }) },
  { name: 'run-at-garbage', build: (q, marker) => jobMessage(q, marker, { [H.runAt]: 'yesterday' }) },
  // An offset that carries the instant out of years 0000-9999, which no copy of the job could carry.
  { name: 'run-at-year-minus-1', build: (q, marker) => jobMessage(q, marker, { [H.runAt]: '0000-01-01T00:00:00+01:00' }) },
  { name: 'run-at-year-10000', build: (q, marker) => jobMessage(q, marker, { [H.runAt]: '9999-12-31T23:59:59.999-01:00' }) },
  { name: 'created-at-feb-30', build: (q, marker) => jobMessage(q, marker, { [H.createdAt]: '2026-02-30T00:00:00Z' }) },
  { name: 'attempt-not-a-number', build: (q, marker) => jobMessage(q, marker, { [H.attempt]: 'abc' }) },
  { name: 'attempt-negative', build: (q, marker) => jobMessage(q, marker, { [H.attempt]: '-1' }) },
  { name: 'attempt-over-max', build: (q, marker) => jobMessage(q, marker, { [H.attempt]: '5', [H.maxAttempts]: '3' }) },
  { name: 'count-over-2^53', build: (q, marker) => jobMessage(q, marker, { [H.maxAttempts]: '99999999999999999' }) },
  { name: 'empty-payload', build: (q, marker) => ({ ...jobMessage(q, marker, {}), value: new Uint8Array(0) }) },
  { name: 'huge-header-no-id', build: (q, marker) => jobMessage(q, marker, { [H.id]: undefined, x_blob: 'b'.repeat(48 * 1024) }) },
  // JetStream refuses headers over 64 KiB; Kafka and the memory bus store it.
  { name: 'header-over-64k-no-id', mayBeRefused: true, build: (q, marker) => jobMessage(q, marker, { [H.id]: undefined, x_blob: 'b'.repeat(256 * 1024) }) },
  {
    // Poison a little under the limit: its dead-letter copy (a few hundred bytes more) must still fit.
    name: 'near-limit-no-name',
    build(q, marker, maxBytes) {
      const m = jobMessage(q, marker, { [H.name]: undefined });
      let size = m.value.byteLength + Buffer.byteLength(typeof m.key === 'string' ? m.key : '');
      for (const [k, v] of m.headers) size += Buffer.byteLength(k) + (typeof v === 'string' ? Buffer.byteLength(v) : v.byteLength);
      return { ...m, value: new Uint8Array(maxBytes - 2_000 - size + m.value.byteLength).fill(120) };
    },
  },
  { name: 'utf8-bad-id', bytes: true, build: (q, marker) => jobMessage(q, marker, { [H.id]: Uint8Array.of(0x69, 0x64, 0xff, 0xfe) }) },
  // An encoded UTF-16 surrogate (CESU-8): rejected by strict UTF-8 decoders.
  { name: 'utf8-surrogate-name', bytes: true, build: (q, marker) => jobMessage(q, marker, { [H.name]: Uint8Array.of(0xed, 0xa0, 0x80) }) },
  { name: 'utf8-bad-user-header', bytes: true, build: (q, marker) => jobMessage(q, marker, { note: Uint8Array.of(0xc3, 0x28) }) },
  { name: 'utf8-truncated-run-at', bytes: true, build: (q, marker) => jobMessage(q, marker, { [H.runAt]: Uint8Array.of(0x32, 0x30, 0xe2, 0x82) }) },
  // A header line the NATS client refuses to parse (a space in the name): its header set throws
  // on first use, which inside a subscription stopped the connection's reader.
  { name: 'nats-refused-header-name', bytes: true, only: 'nats', build: (q, marker) => jobMessage(q, marker, { 'bad name': te.encode('x') }) },
];

/** A good job of the scenario, `i`-th of its run. */
export function goodJob(queue: string, i: number, extra: Partial<Pick<Job, 'headers'>> = {}): Job {
  return createJob({ name: GOOD_NAME, queue, payload: { i }, ...(extra.headers && { headers: extra.headers }) });
}

/**
 * The largest payload the bridge takes at enqueue for a job like `goodJob(queue, i)`: the
 * limit, less the headroom its retry and dead-letter copies need, less its headers and key.
 */
export function largestPayload(queue: string, maxBytes: number): number {
  const probe = createJob({ name: GOOD_NAME, queue, payload: new Uint8Array(1) });
  const overhead = messageBytes(encodeJob(probe)) - 1;
  return maxBytes - failureHeadroomBytes(Buffer.byteLength(queue)) - overhead;
}

/** A good job with a raw payload of `bytes` bytes. */
export function sizedJob(queue: string, bytes: number): Job {
  return createJob({ name: GOOD_NAME, queue, payload: new Uint8Array(bytes).fill(97) });
}

/** Header asking the scenario's handler to fail the job's first attempt. */
export const FAIL_ONCE = 'chaos_fail_once';

/**
 * A good job as a foreign producer writes it: only `job_id`, `job_name` and `job_queue` (here
 * naming `jobQueue`, another queue than the one it is published on), a key that is not UTF-8
 * where bytes exist, and a first attempt that fails: its retry must come back to the queue it
 * was consumed from.
 */
export function foreignGood(id: string, jobQueue: string, bytes: boolean): RawMessage {
  return {
    key: bytes ? Uint8Array.of(0xff, 0x00, 0xc3, 0x28) : '\uD800key',
    value: te.encode(JSON.stringify({ foreign: true })),
    headers: [
      [H.id, id],
      [H.name, GOOD_NAME],
      [H.queue, jobQueue],
      [FAIL_ONCE, '1'],
    ],
  };
}
