import { describe, expect, it } from 'vitest';
import { createJob, DecodeError, payloadOf } from '../../src/index.js';

describe('payloadOf', () => {
  it('gives back what the producer passed: JSON values, text, bytes', () => {
    expect(payloadOf(createJob({ name: 'n', queue: 'q', payload: { a: [1, 'x'] } }))).toEqual({ a: [1, 'x'] });
    expect(payloadOf(createJob({ name: 'n', queue: 'q', payload: 'héllo' }))).toBe('héllo');
    const bytes = new Uint8Array([0, 255, 7]);
    expect(payloadOf(createJob({ name: 'n', queue: 'q', payload: bytes }))).toEqual(bytes);
    expect(payloadOf(createJob({ name: 'n', queue: 'q', payload: '{"v":1}', contentType: 'application/vnd.x+json' }))).toEqual({ v: 1 });
  });

  it('throws a DecodeError (not retryable: the job goes to the DLQ) on bytes that do not match the content type', () => {
    const badJson = createJob({ name: 'n', queue: 'q', payload: new TextEncoder().encode('{oops'), contentType: 'application/json' });
    expect(() => payloadOf(badJson)).toThrow(DecodeError);
    const badText = createJob({ name: 'n', queue: 'q', payload: new Uint8Array([0xc3, 0x28]), contentType: 'text/plain' });
    const err = (() => {
      try {
        payloadOf(badText);
      } catch (e) {
        return e as DecodeError;
      }
    })();
    expect(err).toBeInstanceOf(DecodeError);
    expect(err!.retryable).toBe(false);
    expect(err!.message).toMatch(/not UTF-8/);
  });
});
