/**
 * Property-based fuzz of the wire codec (issue 14, scenario 7): decodeJob on arbitrary and on
 * nearly valid messages throws nothing but its typed DecodeError, with a short message; what it
 * accepts is a job every later copy (retry, dead letter) can encode again; encodeJob round-trips
 * any valid job, whatever its strings and header names.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createJob, DecodeError, type Job } from '../../src/index.js';
import { decodeJob, encodeJob, HEADERS as H, type Message } from '../../src/advanced.js';
import { RESERVED_HEADERS } from '../../src/headers/names.js';

const MIN_MS = Date.parse('0000-01-01T00:00:00.000Z');
const MAX_MS = Date.parse('9999-12-31T23:59:59.999Z');
const nowArb = fc.integer({ min: MIN_MS, max: MAX_MS });
/** Any string: every code unit, lone surrogates included. */
const anyText = fc.string({ unit: 'binary', maxLength: 40 });
const nonBlank = anyText.filter((s) => s.trim() !== '');
const reservedName = fc.constantFrom(...RESERVED_HEADERS);
const headerName = fc.oneof(reservedName, anyText, fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', H.failureReason));

const pad = (n: number, w: number): string => String(n).padStart(w, '0');
/** Timestamps near and beyond every edge the RFC 3339 reader checks. */
const timeArb = fc
  .record({
    y: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 1, 1969, 1970, 9999)),
    mo: fc.integer({ min: 0, max: 13 }),
    d: fc.integer({ min: 0, max: 32 }),
    h: fc.integer({ min: 0, max: 24 }),
    mi: fc.integer({ min: 0, max: 60 }),
    s: fc.integer({ min: 0, max: 61 }),
    frac: fc.option(fc.stringMatching(/^\d{1,10}$/), { nil: undefined }),
    zone: fc.oneof(
      fc.constantFrom('Z', 'z', '+00:00', '-00:00', '+23:59', '-23:59', '+1:00', 'UTC', ''),
      fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 })).map(([sg, hh, mm]) => `${sg}${pad(hh, 2)}:${pad(mm, 2)}`),
    ),
    sep: fc.constantFrom('T', 't', ' ', '_'),
  })
  .map((t) => `${pad(t.y, 4)}-${pad(t.mo, 2)}-${pad(t.d, 2)}${t.sep}${pad(t.h, 2)}:${pad(t.mi, 2)}:${pad(t.s, 2)}${t.frac ? `.${t.frac}` : ''}${t.zone}`);
/** Counts near and beyond what the decimal reader takes. */
const countArb = fc.oneof(
  fc.nat().map(String),
  fc.constantFrom('', ' ', '0', '-0', '-1', '+1', '1e3', '0x10', '1.0', ' 7 ', '٣', '１', '9007199254740991', '9007199254740992', '99999999999999999', 'NaN', 'Infinity'),
  anyText,
);
const valueForHeader = (name: string): fc.Arbitrary<string> =>
  name === H.runAt || name === H.createdAt ? fc.oneof(timeArb, anyText) : name === H.attempt || name === H.maxAttempts ? countArb : anyText;

/** An arbitrary message: any header names and values, key and bytes. */
const anyMessage: fc.Arbitrary<Message> = fc
  .record({
    names: fc.uniqueArray(headerName, { maxLength: 12 }),
    key: fc.option(anyText, { nil: undefined }),
    value: fc.uint8Array({ maxLength: 16 }),
  })
  .chain(({ names, key, value }) =>
    fc.tuple(...names.map(valueForHeader)).map((values) => {
      const headers: Record<string, string> = {};
      names.forEach((n, i) => Object.defineProperty(headers, n, { value: values[i], enumerable: true, writable: true, configurable: true }));
      return { ...(key !== undefined && { key }), value, headers };
    }),
  );

/** A valid job's message with some of its reserved headers replaced or dropped. */
const nearlyValid: fc.Arbitrary<Message> = fc
  .record({
    changes: fc.dictionary(reservedName, fc.option(fc.constant(''), { nil: undefined }), { maxKeys: 4 }),
    seed: fc.integer(),
  })
  .chain(({ changes }) => {
    const names = Object.keys(changes);
    return fc.tuple(fc.constant(changes), fc.tuple(...names.map(valueForHeader)), fc.uint8Array({ minLength: 0, maxLength: 4 }));
  })
  .map(([changes, values, value]) => {
    const base = encodeJob(createJob({ name: 'n', queue: 'q', payload: 'p', maxAttempts: 3 }));
    const headers: Record<string, string> = { ...base.headers };
    Object.keys(changes).forEach((n, i) => {
      if (changes[n] === undefined) delete headers[n];
      else headers[n] = values[i]!;
    });
    return { value: value.byteLength > 0 ? value : base.value, headers };
  });

/** decodeJob, with the two things every outcome must satisfy checked. */
function decodeChecked(message: Message, fallback: string, now: number): Job | undefined {
  let job: Job;
  try {
    job = decodeJob(message, fallback, now);
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    const e = err as DecodeError;
    expect(typeof e.header).toBe('string');
    // The reason lands in a DLQ header: it quotes at most a bounded slice of the bad value.
    expect(e.message.length).toBeLessThan(400);
    return undefined;
  }
  // Whatever was accepted must encode again (its retry and dead-letter copies are encodes) ...
  const again = encodeJob(job);
  // ... and read back as the same job: the codec is a fixed point after one decode.
  expect(decodeJob(again, fallback, now)).toEqual(job);
  return job;
}

describe('fuzz: job wire codec', () => {
  it('decodeJob on arbitrary messages throws only DecodeError, and what it accepts re-encodes to itself', () => {
    fc.assert(
      fc.property(anyMessage, nonBlank, nowArb, (m, fallback, now) => void decodeChecked(m, fallback, now)),
      { numRuns: 3_000 },
    );
  });

  it('decodeJob on nearly valid messages (edge times, counts, blanks) throws only DecodeError, and what it accepts re-encodes', () => {
    fc.assert(
      fc.property(nearlyValid, nowArb, (m, now) => void decodeChecked(m, 'fallback', now)),
      { numRuns: 5_000 },
    );
  });

  it('a time that an offset carries outside years 0000-9999 is a DecodeError (it could never be copied again)', () => {
    const base = encodeJob(createJob({ name: 'n', queue: 'q', payload: 'p' }));
    for (const [header, text] of [
      [H.runAt, '0000-01-01T00:00:00+01:00'],
      [H.runAt, '9999-12-31T23:59:59.999-01:00'],
      [H.createdAt, '0000-01-01T00:59:59.999+01:00'],
    ] as const) {
      expect(() => decodeJob({ ...base, headers: { ...base.headers, [header]: text } }, 'q')).toThrow(DecodeError);
    }
    // The edges themselves still decode.
    const first = decodeJob({ ...base, headers: { ...base.headers, [H.runAt]: '0000-01-01T01:00:00+01:00' } }, 'q');
    expect(first.runAt.toISOString()).toBe('0000-01-01T00:00:00.000Z');
  });

  it('encodeJob round-trips any valid job, whatever its strings (lone surrogates too) and header names', () => {
    const jobArb = fc
      .record({
        id: nonBlank,
        name: nonBlank,
        queue: nonBlank,
        payload: fc.uint8Array({ minLength: 1, maxLength: 64 }),
        names: fc.uniqueArray(headerName, { maxLength: 8 }),
        values: fc.array(anyText, { minLength: 8, maxLength: 8 }),
        tenantId: fc.option(nonBlank, { nil: undefined }),
        correlationId: fc.option(nonBlank, { nil: undefined }),
        idempotencyKey: fc.option(nonBlank, { nil: undefined }),
        partitionKey: fc.option(nonBlank, { nil: undefined }),
        contentType: fc.option(nonBlank, { nil: undefined }),
        runAt: nowArb,
        createdAt: nowArb,
        maxAttempts: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        attempt: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      })
      .map((r) => {
        const headers: Record<string, string> = {};
        r.names.forEach((n, i) => Object.defineProperty(headers, n, { value: r.values[i], enumerable: true, writable: true, configurable: true }));
        const job: Job = {
          id: r.id,
          name: r.name,
          queue: r.queue,
          payload: r.payload,
          headers,
          runAt: new Date(r.runAt),
          createdAt: new Date(r.createdAt),
          maxAttempts: r.maxAttempts,
          attempt: r.maxAttempts > 0 ? r.attempt % (r.maxAttempts + 1) : r.attempt,
          ...(r.tenantId !== undefined && { tenantId: r.tenantId }),
          ...(r.correlationId !== undefined && { correlationId: r.correlationId }),
          ...(r.idempotencyKey !== undefined && { idempotencyKey: r.idempotencyKey }),
          ...(r.partitionKey !== undefined && { partitionKey: r.partitionKey }),
          ...(r.contentType !== undefined && { contentType: r.contentType }),
        };
        return job;
      });
    fc.assert(
      fc.property(jobArb, nonBlank, (job, fallback) => {
        const userHeaders: Record<string, string> = {};
        for (const k of Object.keys(job.headers)) {
          if (!RESERVED_HEADERS.has(k)) Object.defineProperty(userHeaders, k, { value: job.headers[k], enumerable: true, writable: true, configurable: true });
        }
        expect(decodeJob(encodeJob(job), fallback)).toEqual({ ...job, headers: userHeaders });
      }),
      { numRuns: 2_000 },
    );
  });
});
