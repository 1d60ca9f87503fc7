/**
 * The worker's one interval over its running attempts: it times them out and renews their leases.
 *
 *   idle --first attempt starts (ensure)--> sweeping --last attempt ends (release)--> idle
 *
 * Leases are renewed about every third of `leaseTtlMs`; a failed renewal aborts that attempt
 * (its job may be redelivered elsewhere). Timeouts abort with a TimeoutError, precise to SWEEP_MS.
 *
 * A timed-out attempt's lease is no longer renewed: a handler that honours its signal returns
 * within what is left of the lease (at least two thirds of `leaseTtlMs`) and its retry is settled
 * by the worker; one that ignores it loses the lease, the job is redelivered (here or to another
 * worker) while it still runs, and its late settle is refused (LeaseExpiredError, reported
 * through onError). A handler that never returns thus holds a slot, not its job.
 */
import type { Logger } from 'pino';
import { TimeoutError } from '../errors.js';
import type { Backend } from '../jobs/types.js';
import { abortRunning, type Running } from './attempt.js';

/** Longest period of the sweep, ms (the timeout precision). */
const SWEEP_MS = 25;

/** The sweep of one worker. */
export interface LeaseSweep {
  /** Renew an attempt's lease now (also what a handler's `context.renew` calls). */
  renew(running: Running): Promise<void>;
  /** Arm an attempt that starts now: its first renewal and its deadline. */
  arm(running: Running, timeoutMs: number): void;
  /** Start the interval if it is not running (an attempt started). */
  ensure(): void;
  /** Stop the interval when nothing runs any more. */
  release(): void;
}

/** Create the sweep over `inFlight`. */
export function createLeaseSweep(backend: Pick<Backend, 'renew'>, leaseTtlMs: number, inFlight: { readonly size: number } & Iterable<Running>, logger: Logger): LeaseSweep {
  const renewEveryMs = Math.max(30, Math.floor(leaseTtlMs / 3));
  let timer: NodeJS.Timeout | undefined;

  async function renew(running: Running): Promise<void> {
    running.lease = await backend.renew(running.lease, leaseTtlMs);
    // An aborted attempt is not renewed again.
    if (!running.aborted) running.renewAt = Date.now() + renewEveryMs;
  }

  function sweep(): void {
    const now = Date.now();
    for (const r of inFlight) {
      if (r.deadline !== 0 && now >= r.deadline) {
        r.deadline = 0;
        r.renewAt = 0;
        abortRunning(r, new TimeoutError(`attempt timed out after ${r.timeoutMs} ms`));
      }
      if (r.renewAt === 0 || r.renewing || now < r.renewAt) continue;
      r.renewing = true;
      renew(r)
        .catch((err: unknown) => {
          logger.warn({ err, jobId: r.lease.job.id }, 'lease renewal failed; aborting the attempt');
          abortRunning(r, err);
        })
        .finally(() => (r.renewing = false));
    }
  }

  return {
    renew,
    arm(running, timeoutMs) {
      const started = Date.now();
      running.renewAt = started + renewEveryMs;
      running.timeoutMs = timeoutMs;
      running.deadline = started + timeoutMs;
    },
    ensure() {
      timer ??= setInterval(sweep, Math.min(SWEEP_MS, Math.max(5, Math.floor(renewEveryMs / 4))));
    },
    release() {
      if (inFlight.size > 0 || !timer) return;
      clearInterval(timer);
      timer = undefined;
    },
  };
}
