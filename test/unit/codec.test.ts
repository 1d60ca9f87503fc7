import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createJob, DecodeError, ValidationError, type Job } from '../../src/index.js';
import { decodeJob, encodeJob, HEADERS, messageKeyOf } from '../../src/advanced.js';
import { formatRfc3339, parseRfc3339 } from '../../src/headers/index.js';

const dateArb = fc.date({ min: new Date('0001-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true });
const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => s.trim() !== '');
const headerName = fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 });

const jobArb: fc.Arbitrary<Job> = fc
  .record({
    id: text,
    name: text,
    queue: text,
    payload: fc.uint8Array({ minLength: 1, maxLength: 256 }),
    headers: fc.dictionary(headerName, fc.string({ unit: 'grapheme', maxLength: 60 }), { maxKeys: 6 }),
    contentType: fc.option(text, { nil: undefined }),
    tenantId: fc.option(text, { nil: undefined }),
    correlationId: fc.option(text, { nil: undefined }),
    idempotencyKey: fc.option(text, { nil: undefined }),
    partitionKey: fc.option(text, { nil: undefined }),
    runAt: dateArb,
    createdAt: dateArb,
    maxAttempts: fc.integer({ min: 0, max: 1_000 }),
    attemptSeed: fc.integer({ min: 0, max: 1_000 }),
    failure: fc.option(fc.record({ reason: fc.string({ unit: 'grapheme', maxLength: 30 }), failedAt: dateArb }), { nil: undefined }),
  })
  .map(({ attemptSeed, ...r }) => {
    const attempt = r.maxAttempts > 0 ? attemptSeed % (r.maxAttempts + 1) : attemptSeed;
    const job: Record<string, unknown> = { ...r, attempt };
    for (const k of Object.keys(job)) if (job[k] === undefined) delete job[k];
    return job as unknown as Job;
  });

describe('job wire codec', () => {
  it('round-trips any valid job through encode/decode (property)', () => {
    fc.assert(
      fc.property(jobArb, (job) => {
        const decoded = decodeJob(encodeJob(job), 'fallback');
        const userHeaders = Object.fromEntries(
          Object.entries(job.headers).filter(([k]) => !['job_id', 'job_name', 'job_queue', 'job_run_at', 'job_attempt', 'job_max_attempts', 'job_tenant_id', 'tenant_id', 'job_correlation_id', 'correlation_id', 'job_idempotency_key', 'job_content_type', 'job_created_at', 'job_partition_key', 'job_failure_reason', 'job_failed_at'].includes(k)),
        );
        expect(decoded).toEqual({ ...job, headers: userHeaders });
      }),
      { numRuns: 500 },
    );
  });

  it('D2: decodes every attempt / maxAttempts that createJob accepts (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (a, b) => {
        const [attempt, maxAttempts] = a <= b ? [a, b] : [b, a];
        const job = createJob({ name: 'n', queue: 'q', payload: 'x', attempt, maxAttempts });
        const decoded = decodeJob(encodeJob(job), 'q');
        expect([decoded.attempt, decoded.maxAttempts]).toEqual([attempt, maxAttempts]);
      }),
    );
    const forever = createJob({ name: 'n', queue: 'q', payload: 'x', maxAttempts: 1_000_000_000 });
    expect(decodeJob(encodeJob(forever), 'q').maxAttempts).toBe(1_000_000_000);
    expect(() => createJob({ name: 'n', queue: 'q', payload: 'x', maxAttempts: 2 ** 53 })).toThrow(ValidationError);
    expect(() => decodeJob({ value: new Uint8Array([1]), headers: { ...encodeJob(forever).headers, job_max_attempts: String(2 ** 53) } }, 'q')).toThrow(DecodeError);
  });

  it('S1: createJob refuses a runAt the wire format cannot carry (past year 9999)', () => {
    expect(() => createJob({ name: 'n', queue: 'q', payload: 'x', runAt: new Date(Date.now() + 1e15) })).toThrow(/runAt/);
  });

  it('lets reserved headers win over user headers of the same name', () => {
    const job = createJob({ name: 'n', queue: 'q', payload: 'x', headers: { job_id: 'evil', job_attempt: '99', mine: 'ok' } });
    const msg = encodeJob(job);
    expect(msg.headers.job_id).toBe(job.id);
    expect(msg.headers.job_attempt).toBe('0');
    expect(msg.headers.mine).toBe('ok');
    const back = decodeJob(msg, 'q');
    expect(back.headers).toEqual({ mine: 'ok' });
  });

  it('carries a failure in its reserved headers, decoded into job.failure and never among the user headers', () => {
    const failedAt = new Date('2026-11-28T10:00:00.123Z');
    const job = createJob({ name: 'n', queue: 'q', payload: 'x', headers: { keep: 'me', [HEADERS.failureReason]: 'forged' } });
    const message = encodeJob({ ...job, failure: { reason: 'boom', failedAt } });
    expect(message.headers[HEADERS.failureReason]).toBe('boom');
    expect(message.headers[HEADERS.failedAt]).toBe('2026-11-28T10:00:00.123Z');
    const decoded = decodeJob(message, 'q');
    expect(decoded.failure).toEqual({ reason: 'boom', failedAt });
    expect(decoded.headers).toEqual({ keep: 'me' });
    // Without a failure, a user header of a reserved failure name is dropped, not passed on as a failure.
    expect(encodeJob(job).headers[HEADERS.failureReason]).toBeUndefined();
    expect(decodeJob(encodeJob(job), 'q').failure).toBeUndefined();
  });

  it('cuts a long failure reason to 1 KiB and reads a missing or unreadable failure time as now', () => {
    const job = createJob({ name: 'n', queue: 'q', payload: 'x' });
    const long = encodeJob({ ...job, failure: { reason: 'é'.repeat(2_000), failedAt: new Date() } });
    expect(Buffer.byteLength(long.headers[HEADERS.failureReason]!)).toBeLessThanOrEqual(1_024);
    const now = Date.parse('2026-11-28T12:00:00.000Z');
    const headers: Record<string, string> = { ...encodeJob(job).headers, [HEADERS.failureReason]: 'foreign', [HEADERS.failedAt]: 'yesterday' };
    expect(decodeJob({ value: job.payload, headers }, 'q', now).failure).toEqual({ reason: 'foreign', failedAt: new Date(now) });
    delete headers[HEADERS.failedAt];
    expect(decodeJob({ value: job.payload, headers }, 'q', now).failure).toEqual({ reason: 'foreign', failedAt: new Date(now) });
    expect(() => encodeJob({ ...job, failure: { reason: 'x', failedAt: new Date(Number.NaN) } })).toThrow(/failure\.failedAt/);
  });

  it('keeps a header named __proto__ as a plain header (no prototype pollution)', () => {
    const headers = JSON.parse('{"__proto__": "x", "polluted": "no"}') as Record<string, string>;
    const back = decodeJob(encodeJob(createJob({ name: 'n', queue: 'q', payload: 'x', headers })), 'q');
    expect(Object.getPrototypeOf(back.headers)).toBe(Object.prototype);
    expect(Object.keys(back.headers).sort()).toEqual(['__proto__', 'polluted']);
    expect(back.headers['__proto__']).toBe('x');
  });

  it('writes the seed wire format: tenant and correlation aliases, RFC 3339 UTC times, decimal counts', () => {
    const job = createJob({
      id: 'id-1', name: 'send', queue: 'mail', payload: 'x', tenantId: 't1', correlationId: 'c1', idempotencyKey: 'i1',
      runAt: new Date('2026-01-02T03:04:05.678Z'), maxAttempts: 7,
    });
    const h = encodeJob(job).headers;
    expect(h).toMatchObject({
      job_id: 'id-1', job_name: 'send', job_queue: 'mail', job_run_at: '2026-01-02T03:04:05.678Z', job_attempt: '0',
      job_max_attempts: '7', job_tenant_id: 't1', tenant_id: 't1', job_correlation_id: 'c1', correlation_id: 'c1',
      job_idempotency_key: 'i1',
    });
  });

  it('keys messages by partitionKey, else tenant:name, else name:id', () => {
    expect(messageKeyOf({ id: 'i', name: 'n', partitionKey: 'pk', tenantId: 't' })).toBe('pk');
    expect(messageKeyOf({ id: 'i', name: 'n', tenantId: 't' })).toBe('t:n');
    expect(messageKeyOf({ id: 'i', name: 'n' })).toBe('n:i');
    expect(messageKeyOf({ id: 'i', name: '' })).toBe('i');
    expect(encodeJob(createJob({ id: 'x', name: 'n', queue: 'q', payload: 'p' })).key).toBe('n:x');
  });

  it('decodes what a Go service writes: nanosecond times, offsets, only the seed headers', () => {
    const job = decodeJob(
      {
        key: 'k',
        value: new TextEncoder().encode('{}'),
        headers: {
          job_id: 'go-1', job_name: 'email', job_run_at: '2026-11-22T10:00:00.123456789Z', job_attempt: '2', job_max_attempts: '5',
          tenant_id: 'acme', correlation_id: 'c', other: 'h',
        },
      },
      'emails',
    );
    expect(job.queue).toBe('emails'); // fallback queue
    expect(job.runAt.toISOString()).toBe('2026-11-22T10:00:00.123Z');
    expect(job.attempt).toBe(2);
    expect(job.maxAttempts).toBe(5);
    expect(job.tenantId).toBe('acme');
    expect(job.correlationId).toBe('c');
    expect(job.headers).toEqual({ other: 'h' });
    expect(job.createdAt.getTime()).toBe(job.runAt.getTime());
  });

  it.each([
    [{ job_name: 'n' }, 'job_id'],
    [{ job_id: ' ', job_name: 'n' }, 'job_id'],
    [{ job_id: 'i' }, 'job_name'],
    [{ job_id: 'i', job_name: 'n', job_attempt: '-1' }, 'job_attempt'],
    [{ job_id: 'i', job_name: 'n', job_attempt: '1.5' }, 'job_attempt'],
    [{ job_id: 'i', job_name: 'n', job_max_attempts: 'x' }, 'job_max_attempts'],
    [{ job_id: 'i', job_name: 'n', job_attempt: '4', job_max_attempts: '3' }, 'job_attempt'],
    [{ job_id: 'i', job_name: 'n', job_run_at: 'yesterday' }, 'job_run_at'],
    [{ job_id: 'i', job_name: 'n', job_run_at: '2026-02-30T00:00:00Z' }, 'job_run_at'],
    [{ job_id: 'i', job_name: 'n', job_created_at: '2026-01-01' }, 'job_created_at'],
  ])('refuses %j with a DecodeError naming %s', (headers, header) => {
    const attempt = () => decodeJob({ value: new Uint8Array([1]), headers }, 'q');
    expect(attempt).toThrow(DecodeError);
    try {
      attempt();
    } catch (err) {
      expect((err as DecodeError).header).toBe(header);
      expect((err as DecodeError).code).toBe('DECODE');
      expect((err as DecodeError).message).toContain(header);
    }
  });

  it('refuses an empty payload naming the value', () => {
    expect(() => decodeJob({ value: new Uint8Array(), headers: { job_id: 'i', job_name: 'n' } }, 'q')).toThrow(/value/);
  });

  it('never throws anything but a DecodeError on arbitrary headers (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...Object.values(HEADERS), 'x'), fc.string({ maxLength: 40 })),
        fc.uint8Array({ maxLength: 8 }),
        (headers, value) => {
          try {
            decodeJob({ value, headers }, 'q');
          } catch (err) {
            expect(err).toBeInstanceOf(DecodeError);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('RFC 3339 times', () => {
  it('reads up to nanoseconds, any offset, and writes UTC milliseconds', () => {
    expect(parseRfc3339('2026-11-22T10:00:00Z', 'h').toISOString()).toBe('2026-11-22T10:00:00.000Z');
    expect(parseRfc3339('2026-11-22T10:00:00.5Z', 'h').toISOString()).toBe('2026-11-22T10:00:00.500Z');
    expect(parseRfc3339('2026-11-22T10:00:00.999999999Z', 'h').toISOString()).toBe('2026-11-22T10:00:00.999Z');
    expect(parseRfc3339('2026-11-22T12:30:00+02:30', 'h').toISOString()).toBe('2026-11-22T10:00:00.000Z');
    expect(parseRfc3339('2026-11-22T05:00:00-05:00', 'h').toISOString()).toBe('2026-11-22T10:00:00.000Z');
    expect(parseRfc3339('0001-01-01T00:00:00Z', 'h').getUTCFullYear()).toBe(1); // Go's zero time
    expect(formatRfc3339(new Date(Date.UTC(2026, 0, 1)), 'f')).toBe('2026-01-01T00:00:00.000Z');
  });

  it('round-trips every millisecond date of years 1..9999 (property)', () => {
    fc.assert(
      fc.property(dateArb, (d) => {
        expect(parseRfc3339(formatRfc3339(d, 'f'), 'h').getTime()).toBe(d.getTime());
      }),
    );
  });

  it('rejects dates it cannot write as RFC 3339', () => {
    expect(() => formatRfc3339(new Date(Date.UTC(10_000, 0, 1)), 'runAt')).toThrow(ValidationError);
    expect(() => formatRfc3339(new Date(Number.NaN), 'runAt')).toThrow(/runAt/);
  });
});
