/**
 * The scheduler's time: a clock and a timer, both injectable so tests move time themselves.
 * Every wait and timeout of the scheduler goes through here.
 */
import { TimeoutError } from '../errors.js';

/** A clock plus the waits built on its timer. */
export interface Clock {
  now(): number;
  /** Run `fn` after `ms`; returns a cancel function. */
  after(fn: () => void, ms: number): () => void;
  /** Resolve after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Settle like `op`, or reject with a `TimeoutError` saying `what` after `ms`. */
  timeout<T>(op: Promise<T>, ms: number, what: string): Promise<T>;
}

/** A {@link Clock} from the scheduler's `now` and `setTimer` options (default: the real ones). */
export function createClock(now: () => number = Date.now, setTimer?: (fn: () => void, ms: number) => () => void): Clock {
  const after =
    setTimer ??
    ((fn: () => void, ms: number): (() => void) => {
      const handle = setTimeout(fn, ms);
      return () => clearTimeout(handle);
    });
  return {
    now,
    after,
    sleep(ms, signal) {
      return new Promise((resolve) => {
        if (signal?.aborted) return resolve();
        const done = (): void => {
          cancel();
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const cancel = after(done, Math.max(0, ms));
        signal?.addEventListener('abort', done, { once: true });
      });
    },
    timeout(op, ms, what) {
      return new Promise((resolve, reject) => {
        const cancel = after(() => reject(new TimeoutError(`${what} took longer than ${ms} ms`)), Math.max(0, ms));
        op.then(
          (value) => {
            cancel();
            resolve(value);
          },
          (err: unknown) => {
            cancel();
            reject(err);
          },
        );
      });
    },
  };
}
