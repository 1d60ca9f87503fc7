/**
 * The queues a backend does not hand out jobs of (paused for its group, see src/control/), and
 * the gate that holds every reserve until the paused set is first known.
 *
 *   queue: running --pause--> paused --resume--> running
 *   gate:  open --gateUntil(p)--> closed --p settles, or release() (close)--> open
 *
 * A reserve while the gate is closed waits (a restarted worker of a paused queue takes none);
 * a reserve whose queues are all paused waits for a resume (or its timeout) and gets nothing.
 */

/** The paused queues and the start gate of one backend. */
export interface PausedQueues {
  /** Whether `queue` is paused. */
  has(queue: string): boolean;
  /** Paused queues. */
  readonly size: number;
  /** Every paused queue. */
  list(): string[];
  /** `queues` without the paused ones (the same array when none of them is). */
  active(queues: readonly string[]): readonly string[];
  /** Pause `queue`; false when it was already. */
  pause(queue: string): boolean;
  /** Resume `queue`; false when it was not paused. */
  resume(queue: string): boolean;
  /** Resolves at the next resume, after `timeoutMs`, or when `signal` aborts. */
  waitForResume(timeoutMs: number, signal: AbortSignal | undefined): Promise<void>;
  /** Hold reserves until `ready` settles. */
  gateUntil(ready: Promise<unknown>): void;
  /** Whether the gate is closed (reserves wait). */
  gated(): boolean;
  /** While the gate is closed, a promise resolving when it opens (or `signal` aborts); else undefined. */
  gate(signal: AbortSignal | undefined): Promise<void> | undefined;
  /** Open the gate and end every wait (close). */
  release(): void;
}

/** Resolves when `p` settles or `signal` aborts (never rejects). */
function untilSettledOrAborted(p: Promise<unknown>, signal: AbortSignal | undefined): Promise<void> {
  const settled = p.then(
    () => undefined,
    () => undefined,
  );
  if (!signal) return settled;
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void settled.then(done);
  });
}

/** Create the paused queues of one backend (none paused, gate open). */
export function createPausedQueues(): PausedQueues {
  const paused = new Set<string>();
  let gating: Promise<void> | undefined;
  let wakeGate: (() => void) | undefined;
  // One entry per waiting reserve, removed when it ends (a long pause accumulates nothing).
  const resumeWaits = new Set<() => void>();

  function wakeResumeWaits(): void {
    for (const wake of [...resumeWaits]) wake();
  }

  return {
    has: (queue) => paused.has(queue),
    get size() {
      return paused.size;
    },
    list: () => [...paused],
    active: (queues) => (paused.size === 0 || !queues.some((q) => paused.has(q)) ? queues : queues.filter((q) => !paused.has(q))),
    pause(queue) {
      if (paused.has(queue)) return false;
      paused.add(queue);
      return true;
    },
    resume(queue) {
      if (!paused.delete(queue)) return false;
      wakeResumeWaits();
      return true;
    },
    waitForResume(timeoutMs, signal) {
      if (timeoutMs <= 0 || signal?.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          resumeWaits.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        resumeWaits.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    },
    gateUntil(ready) {
      const opened = new Promise<void>((resolve) => (wakeGate = resolve));
      const p = Promise.race([ready.then(() => undefined, () => undefined), opened]).then(() => {
        if (gating === p) gating = undefined;
      });
      gating = p;
    },
    gated: () => gating !== undefined,
    gate: (signal) => (gating ? untilSettledOrAborted(gating, signal) : undefined),
    release() {
      wakeGate?.();
      wakeGate = undefined;
      gating = undefined;
      wakeResumeWaits();
    },
  };
}
