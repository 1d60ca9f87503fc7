import { afterEach, describe, expect, it, vi } from 'vitest';
import { clampTimerDelay, MAX_TIMER_DELAY_MS, safeTimeout } from '../../src/eventbus/timers.js';

describe('safeTimeout', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('R5: a delay above 2^31-1 ms does not fire early (plain setTimeout fires after 1 ms)', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const tenYears = 10 * 365 * 24 * 3_600_000;
    safeTimeout(fn, tenYears);
    vi.advanceTimersByTime(10);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(tenYears - MAX_TIMER_DELAY_MS);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('R5: clamps NaN, negative and huge delays', () => {
    expect(clampTimerDelay(Number.NaN)).toBe(0);
    expect(clampTimerDelay(-5)).toBe(0);
    expect(clampTimerDelay(Number.POSITIVE_INFINITY)).toBe(MAX_TIMER_DELAY_MS);
    expect(clampTimerDelay(1_000)).toBe(1_000);
  });

  it('S2: a throwing or rejecting callback is reported, never thrown into the process', async () => {
    vi.useFakeTimers();
    const errors: unknown[] = [];
    safeTimeout(() => {
      throw new Error('boom');
    }, 1, (e) => errors.push(e));
    safeTimeout(() => Promise.reject(new Error('async boom')), 1, (e) => errors.push(e));
    safeTimeout(() => {
      throw new Error('handler fails too');
    }, 1, () => {
      throw new Error('onError boom');
    });
    await vi.advanceTimersByTimeAsync(5);
    expect(errors.map((e) => (e as Error).message).sort()).toEqual(['async boom', 'boom']);
  });

  it('clear() cancels, also between the steps of a long delay', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const t = safeTimeout(fn, MAX_TIMER_DELAY_MS * 2);
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS + 1);
    t.clear();
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS * 2);
    expect(fn).not.toHaveBeenCalled();
    expect(t.done).toBe(true);
  });
});
