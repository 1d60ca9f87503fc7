/** Per-job-name concurrency and rate limits of one worker process. */
import type { WorkerConfig } from '../jobs/config.js';
import type { RateLimit, RegistrableJob } from '../jobs/define.js';
import { createRateWindow, type RateWindow } from './rate.js';
import { bump } from './counts.js';

/** A job over its limit is put off this long (a concurrency slot may free by then), ms. */
const LIMIT_RESCHEDULE_MS = 250;

/** The admission verdict for one job. */
export type Admission = { ok: true } | { ok: false; delayMs: number; reason: string };

const ADMITTED: Admission = Object.freeze({ ok: true });

/** Limits by job name: configured ones win over a definition's. */
export interface JobLimits {
  /** Whether a job of `name` may start now, else how long to put it off. */
  admit(name: string, def?: RegistrableJob): Admission;
  /** A job of `name` started (+1) or finished (-1). */
  track(name: string, by: 1 | -1): void;
}

/** Create the limits of a worker. */
export function createJobLimits(configured: WorkerConfig['limits']): JobLimits {
  const running = new Map<string, number>();
  const windows = new Map<string, RateWindow>();

  function limitOf(name: string, def?: RegistrableJob): { concurrency?: number; rateLimit?: RateLimit } {
    return {
      ...(def?.concurrency !== undefined && { concurrency: def.concurrency }),
      ...(def?.rateLimit !== undefined && { rateLimit: def.rateLimit }),
      ...configured[name],
    };
  }

  return {
    admit(name, def) {
      // No limit configured or defined (the common case): no limit object to build.
      if (def?.concurrency === undefined && def?.rateLimit === undefined && configured[name] === undefined) return ADMITTED;
      const limit = limitOf(name, def);
      if (limit.concurrency !== undefined && (running.get(name) ?? 0) >= limit.concurrency) {
        return { ok: false, delayMs: LIMIT_RESCHEDULE_MS, reason: `concurrency limit ${limit.concurrency} of "${name}" reached` };
      }
      if (limit.rateLimit) {
        let w = windows.get(name);
        if (!w) windows.set(name, (w = createRateWindow(limit.rateLimit)));
        const wait = w.tryTake(Date.now());
        if (wait > 0) return { ok: false, delayMs: wait, reason: `rate limit ${limit.rateLimit.max}/${limit.rateLimit.perMs} ms of "${name}" reached` };
      }
      return ADMITTED;
    },
    track: (name, by) => bump(running, name, by),
  };
}
