import type { RateLimit } from '../jobs/define.js';

/** A sliding-window rate limiter for one job name in one worker. */
export interface RateWindow {
  /** Take a start slot at `now`: 0 when allowed, else how many ms until one frees up. */
  tryTake(now: number): number;
}

/** At most `max` starts in any `perMs` window (start times kept in a ring, O(1) per call). */
export function createRateWindow(limit: RateLimit): RateWindow {
  const starts: number[] = new Array<number>(limit.max).fill(-Infinity);
  let oldest = 0; // index of the oldest recorded start
  return {
    tryTake(now) {
      const wait = starts[oldest]! + limit.perMs - now;
      if (wait > 0) return Math.ceil(wait);
      starts[oldest] = now;
      oldest = (oldest + 1) % limit.max;
      return 0;
    },
  };
}
