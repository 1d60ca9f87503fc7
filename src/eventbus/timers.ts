/**
 * Timers every bus may use for hold / wake-up / back-off waits (R5, S2).
 *
 * Why not plain `setTimeout`:
 * - Node stores a delay in a signed 32-bit integer: anything above 2^31-1 ms (~24.8 days) — a
 *   garbage or foreign due-time header, a skewed record timestamp — is replaced by 1 ms, so a
 *   "wait until year 2036" timer fires at once and, re-armed by its caller, spins. A
 *   {@link safeTimeout} longer than {@link MAX_TIMER_DELAY_MS} waits in steps of at most that
 *   long and fires only once the whole delay has passed.
 * - An exception in a timer callback is an `uncaughtException` and ends the process by default.
 *   A {@link safeTimeout} callback that throws (or returns a rejected promise) is reported to
 *   `onError` instead (default: a process warning), never to the process.
 */

/** The longest delay Node's timers honour, ms (2^31 - 1). */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** A pending {@link safeTimeout}. */
export interface SafeTimer {
  /** Cancel it (no-op once fired or cleared). */
  clear(): void;
  /** Do not keep the event loop alive for this timer (as `Timeout.unref`). Returns the timer. */
  unref(): SafeTimer;
  /** True once the callback ran or the timer was cleared. */
  readonly done: boolean;
}

/** `ms` as a delay Node honours: NaN and negatives become 0, anything above the maximum the maximum. */
export function clampTimerDelay(ms: number): number {
  if (!(ms > 0)) return 0; // NaN, -Infinity, 0, negatives
  return ms > MAX_TIMER_DELAY_MS ? MAX_TIMER_DELAY_MS : ms;
}

function reportToProcess(err: unknown): void {
  // Visible, but never fatal: a timer must not take the process down (S2).
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  process.emitWarning(`jobbus: a timer callback failed: ${text}`, 'JobbusTimerWarning');
}

/**
 * `setTimeout` that neither overflows nor throws: runs `fn` once, not before `ms` have passed by
 * `Date.now()` (negative and NaN = 0; a delay above {@link MAX_TIMER_DELAY_MS} is waited in steps,
 * re-checking the clock each time).
 * An exception or a rejected promise from `fn` goes to `onError` (default: `process.emitWarning`);
 * an exception from `onError` itself is swallowed.
 */
export function safeTimeout(fn: () => unknown, ms: number, onError: (err: unknown) => void = reportToProcess): SafeTimer {
  const target = Date.now() + (Number.isNaN(ms) ? 0 : Math.max(0, ms));
  let handle: NodeJS.Timeout | undefined;
  let unrefd = false;
  let done = false;

  const fail = (err: unknown): void => {
    try {
      onError(err);
    } catch {
      // the error handler failed too: nothing left to report to without risking the process
    }
  };
  const fire = (): void => {
    handle = undefined;
    if (done) return;
    const left = target - Date.now();
    // Steps of at most the maximum. Node may also fire up to 1 ms before Date.now() reaches the
    // target: wait out the rest then too, so `fn` never runs before the delay has passed.
    if (left >= 1) return arm(left);
    done = true;
    try {
      const r = fn();
      if (r instanceof Promise) r.catch(fail);
    } catch (err) {
      fail(err);
    }
  };
  const arm = (delay: number): void => {
    handle = setTimeout(fire, clampTimerDelay(delay));
    if (unrefd) handle.unref();
  };
  arm(target - Date.now());

  const timer: SafeTimer = {
    clear() {
      done = true;
      if (handle) clearTimeout(handle);
      handle = undefined;
    },
    unref() {
      unrefd = true;
      handle?.unref();
      return timer;
    },
    get done() {
      return done;
    },
  };
  return timer;
}
