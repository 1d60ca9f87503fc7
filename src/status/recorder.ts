/**
 * Best-effort status writes: a bounded queue drained in the background, so a store that is
 * down or slow never fails or slows a job (its updates are counted and logged, then dropped).
 *
 *   update: queued --(slot free)--> writing --> recorded | failed
 *           queued --(a newer update of the same job)--> replaced (only the newest is written)
 *           (queue full) --> dropped
 */
import type { Logger } from 'pino';
import type { JobStatus, JobStatusStore, StatusWriteCounts } from './types.js';

/** Options of {@link createStatusRecorder}. */
export interface StatusRecorderOptions {
  /** Where failed and dropped writes are reported (one warning per `warnEveryMs`). */
  readonly logger: Logger;
  /** Jobs whose update waits at most; past it updates are dropped. Default 10 000. */
  readonly maxQueued?: number;
  /** Writes in flight at once (never two of one job). Default 4. */
  readonly concurrency?: number;
  /** A write not answered within this is counted failed and its slot freed, ms. Default 5 000. */
  readonly timeoutMs?: number;
  /** Least time between two warnings about failed or dropped writes, ms. Default 30 000. */
  readonly warnEveryMs?: number;
}

/** The write side of a status store, as the observer uses it. */
export interface StatusRecorder {
  /** Queue `update` (synchronous, never throws). */
  push(update: JobStatus): void;
  /** Resolves once the queue is empty and no write is in flight, or after `timeoutMs` (default the write timeout, at most 2 000). */
  flush(timeoutMs?: number): Promise<void>;
  /** What happened to the writes so far. */
  counters(): StatusWriteCounts;
}

/** A recorder writing to `store`. */
export function createStatusRecorder(store: JobStatusStore, options: StatusRecorderOptions): StatusRecorder {
  const { logger } = options;
  const maxQueued = options.maxQueued ?? 10_000;
  const concurrency = options.concurrency ?? 4;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const warnEveryMs = options.warnEveryMs ?? 30_000;
  // Insertion order = arrival order; a newer update of a queued job takes its place.
  const queued = new Map<string, JobStatus>();
  const writing = new Set<string>();
  const counts = { recorded: 0, failed: 0, dropped: 0 };
  let lastWarn = -Infinity;
  let idle: (() => void)[] = [];

  const warn = (err: unknown, what: string): void => {
    const now = Date.now();
    if (now - lastWarn < warnEveryMs) return;
    lastWarn = now;
    logger.warn({ err, ...counts }, `job status ${what}; status updates are skipped while this lasts (jobs are not affected)`);
  };

  const write = (update: JobStatus): Promise<unknown> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      timer.unref?.();
    });
    // store.record may throw synchronously (a bad argument): that is a failed write too.
    return Promise.race([Promise.resolve().then(() => store.record(update)), late]).finally(() => clearTimeout(timer));
  };

  const pump = (): void => {
    for (const [jobId, update] of queued) {
      if (writing.size >= concurrency) return;
      if (writing.has(jobId)) continue;
      queued.delete(jobId);
      writing.add(jobId);
      write(update).then(
        () => void counts.recorded++,
        (err: unknown) => {
          counts.failed++;
          warn(err, 'store write failed');
        },
      ).finally(() => {
        writing.delete(jobId);
        pump();
        if (queued.size === 0 && writing.size === 0) {
          const waiting = idle;
          idle = [];
          for (const resolve of waiting) resolve();
        }
      });
    }
  };

  return {
    push(update) {
      if (!queued.has(update.jobId) && queued.size >= maxQueued) {
        counts.dropped++;
        warn(undefined, `write queue is full (${maxQueued})`);
        return;
      }
      queued.set(update.jobId, update);
      pump();
    },
    flush(ms = Math.min(timeoutMs, 2_000)) {
      if (queued.size === 0 && writing.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        timer.unref?.();
        idle.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    counters: () => ({ ...counts }),
  };
}
