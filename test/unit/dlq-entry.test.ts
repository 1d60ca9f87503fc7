/** The DLQ tools' pure parts: entry ids, payload previews, filters, the cursor. */
import { describe, expect, it } from 'vitest';
import { entryIdOf, payloadPreview, replayCopy, REPLAY_OF_HEADER } from '../../src/bridge/dlq-entry.js';
import { checkFilter, checkListOptions, checkReplayOptions } from '../../src/bridge/dlq-filter.js';
import { ValidationError } from '../../src/errors.js';

const enc = new TextEncoder();

describe('DLQ entries', () => {
  it('entry ids hash key, headers (in any order) and value', () => {
    const a = { key: 'k', value: enc.encode('v'), headers: { x: '1', y: '2' } };
    expect(entryIdOf(a)).toBe(entryIdOf({ key: 'k', value: enc.encode('v'), headers: { y: '2', x: '1' } }));
    expect(entryIdOf(a)).not.toBe(entryIdOf({ ...a, headers: { x: '1', y: '3' } }));
    expect(entryIdOf(a)).not.toBe(entryIdOf({ ...a, key: undefined }));
    expect(entryIdOf({ value: enc.encode('ab'), headers: { x: '' } })).not.toBe(entryIdOf({ value: enc.encode('b'), headers: { xa: '' } }));
  });

  it('previews text up to 200 characters and binary as base64', () => {
    expect(payloadPreview(enc.encode('{"a":1}'))).toBe('{"a":1}');
    expect(payloadPreview(enc.encode('é'.repeat(300)))).toBe(`${'é'.repeat(200)}…`);
    expect(payloadPreview(new Uint8Array([0xff, 0xfe, 0x00]))).toBe('base64://4A');
  });

  it('the replay copy drops the failure headers, resets the attempt and names the entry', () => {
    const copy = replayCopy({ value: enc.encode('v'), headers: { job_attempt: '2', job_failure_reason: 'r', job_failed_at: 't', job_original_queue: 'q', mine: 'kept' } }, 'abc');
    expect(copy.headers).toMatchObject({ job_attempt: '0', mine: 'kept', [REPLAY_OF_HEADER]: 'abc' });
    expect(Object.keys(copy.headers)).not.toContain('job_failure_reason');
    expect(Object.keys(copy.headers)).not.toContain('job_original_queue');
    expect(copy.headers['job_replayed_at']).toBe(copy.headers['job_run_at']);
  });
});

describe('DLQ filters', () => {
  const field = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      if (e instanceof ValidationError) return e.field;
      throw e;
    }
    return 'none';
  };

  it('names the offending field', () => {
    expect(field(() => checkFilter({ since: new Date(NaN) }))).toBe('since');
    expect(field(() => checkFilter({ since: new Date(2), until: new Date(1) }))).toBe('until');
    expect(field(() => checkFilter({ reason: 3 as unknown as string }))).toBe('reason');
    expect(field(() => checkFilter(null as unknown as object))).toBe('selection');
    expect(field(() => checkListOptions({ limit: 1.5 }))).toBe('limit');
    expect(field(() => checkListOptions({ cursor: 'x.zz' }))).toBe('cursor');
    expect(field(() => checkReplayOptions({ ratePerSecond: -1 }))).toBe('ratePerSecond');
    expect(field(() => checkReplayOptions({ ratePerSecond: Infinity }))).toBe('ratePerSecond');
    expect(field(() => checkReplayOptions({ signal: {} as AbortSignal }))).toBe('signal');
    expect(field(() => checkReplayOptions({ ratePerSecond: 4 }))).toBe('none');
    expect(checkReplayOptions({ ratePerSecond: 4 }).spacingMs).toBe(250);
  });
});
