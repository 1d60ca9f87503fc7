import { describe, expect, it } from 'vitest';
import { ClosedError, createJob, DecodeError, describeError, isJobbusError, JobbusError, LeaseExpiredError, PermanentError, RetryableError, RetryLaterError, TimeoutError, UnavailableError, validateJob, ValidationError, type Job } from '../../src/index.js';
import { exponentialBackoff, newJobId, parseWorkerConfig } from '../../src/advanced.js';

describe('job validation', () => {
  const valid = createJob({ name: 'n', queue: 'q', payload: 'p' });
  it.each<[string, Partial<Job>]>([
    ['id', { id: '  ' }],
    ['name', { name: '' }],
    ['queue', { queue: '\t' }],
    ['payload', { payload: new Uint8Array() }],
    ['attempt', { attempt: -1 }],
    ['attempt', { attempt: 1.5 }],
    ['maxAttempts', { maxAttempts: -2 }],
    ['attempt', { attempt: 4, maxAttempts: 3 }],
    ['runAt', { runAt: new Date('nope') }],
    ['createdAt', { createdAt: new Date(Number.NaN) }],
    ['headers.h', { headers: { h: 3 as unknown as string } }],
  ])('names %s when it breaks a rule', (field, change) => {
    const err = (() => {
      try {
        validateJob({ ...valid, ...change });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect((err as ValidationError).code).toBe('VALIDATION');
    expect((err as ValidationError).retryable).toBe(false);
  });

  it('accepts attempt == maxAttempts and any attempt when maxAttempts is 0', () => {
    expect(() => validateJob({ ...valid, attempt: 3, maxAttempts: 3 })).not.toThrow();
    expect(() => validateJob({ ...valid, attempt: 99, maxAttempts: 0 })).not.toThrow();
  });

  it('createJob fills defaults and encodes JSON, text and bytes payloads', () => {
    const j = createJob({ name: 'n', queue: 'q', payload: { a: 1 } });
    expect(j.contentType).toBe('application/json');
    expect(new TextDecoder().decode(j.payload)).toBe('{"a":1}');
    expect(j.attempt).toBe(0);
    expect(j.maxAttempts).toBe(0);
    expect(j.runAt.getTime()).toBe(j.createdAt.getTime());
    expect(createJob({ name: 'n', queue: 'q', payload: 'hi' }).contentType).toMatch(/^text\/plain/);
    expect(createJob({ name: 'n', queue: 'q', payload: new Uint8Array([1]) }).contentType).toBe('application/octet-stream');
    expect(() => createJob({ name: 'n', queue: 'q', payload: '' })).toThrow(/payload/);
  });

  it('generates time-ordered unique UUIDv7 ids', () => {
    const ids = Array.from({ length: 5_000 }, () => newJobId());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('error hierarchy', () => {
  it('gives every error a stable code, a retryable flag and keeps the cause', () => {
    const cause = new Error('socket hang up');
    const cases: [JobbusError, string, boolean][] = [
      [new ValidationError('f', 'bad'), 'VALIDATION', false],
      [new DecodeError('job_id', 'missing'), 'DECODE', false],
      [new LeaseExpiredError('j', 'gone'), 'LEASE_EXPIRED', false],
      [new RetryableError('again', { cause }), 'RETRYABLE', true],
      [new UnavailableError('down', { cause }), 'UNAVAILABLE', true],
      [new TimeoutError('slow'), 'TIMEOUT', true],
      [new ClosedError('closed'), 'CLOSED', false],
      [new PermanentError('no'), 'PERMANENT', false],
      [new RetryLaterError(10), 'RETRY_LATER', true],
    ];
    for (const [err, code, retryable] of cases) {
      expect(err).toBeInstanceOf(JobbusError);
      expect(isJobbusError(err)).toBe(true);
      expect(err.code).toBe(code);
      expect(err.retryable).toBe(retryable);
      expect(err.name).toBe(err.constructor.name);
    }
    expect(new UnavailableError('down', { cause }).cause).toBe(cause);
    expect(() => new RetryLaterError(-1)).toThrow(/delayMs/);
  });

  it('describes anything thrown on one line', () => {
    expect(describeError(new PermanentError('a\nb'))).toBe('PermanentError [PERMANENT]: a b');
    expect(describeError('str')).toBe('non-error thrown: str');
    expect(describeError(undefined)).toBe('non-error thrown: undefined');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(describeError(circular)).toMatch(/non-error thrown/);
  });
});

describe('worker config', () => {
  it('fills the seed defaults', () => {
    const c = parseWorkerConfig({ queues: ['q'] });
    expect(c).toMatchObject({
      concurrency: 1, leaseTtlMs: 30_000, reserveTimeoutMs: 1_000, stopTimeoutMs: 10_000,
      retry: { maxAttempts: 5, initialBackoffMs: 1_000, maxBackoffMs: 60_000, attemptTimeoutMs: 30_000 },
      dlq: { enabled: true },
    });
    expect(c.dlq).not.toHaveProperty('queueSuffix');
  });

  it('names the bad field and lists every issue', () => {
    try {
      parseWorkerConfig({ queues: [], concurrency: 0, retry: { initialBackoffMs: 10, maxBackoffMs: 5 } } as never);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      const v = err as ValidationError;
      expect(v.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['queues', 'concurrency', 'retry.maxBackoffMs']));
    }
    expect(() => parseWorkerConfig({ queues: ['q'], bogus: 1 } as never)).toThrow(/bogus/);
  });
});

describe('exponential backoff', () => {
  const retry = { initialBackoffMs: 1_000, maxBackoffMs: 60_000, jitter: 0.2 };
  it('doubles from the initial backoff up to the cap', () => {
    const mid = () => 0.5; // no spread
    expect([0, 1, 2, 3, 6, 7, 100].map((a) => exponentialBackoff(a, retry, mid))).toEqual([1_000, 2_000, 4_000, 8_000, 60_000, 60_000, 60_000]);
  });
  it('spreads by at most the jitter fraction', () => {
    expect(exponentialBackoff(0, retry, () => 0)).toBe(800);
    expect(exponentialBackoff(0, retry, () => 0.999999)).toBe(1_200);
  });
});
