/**
 * Why leases exist over push buses, and how the three clocks of a held job relate.
 *
 * Every bus pushes: a subscription hands a delivery to a callback and waits for it to settle.
 * A worker pulls: it reserves a job when it has a free slot, holds it under a lease, and
 * settles it only after its handler returned (a retry or dead-letter copy is published before
 * the original is settled). This backend joins the two by keeping each delivery's callback
 * pending, buffered and then leased, until the lease is settled. The price is that one job runs
 * under three clocks:
 *
 * 1. The transport's ack timeout (`ackTimeoutMs`): the bus redelivers a delivery not settled in
 *    time; this is how the jobs of a crashed process come back. While this process lives the
 *    backend keeps it from firing (`working()` on every held job each third of it), so the
 *    transport never takes a job back from a live process on its own.
 * 2. The backend's lease expiry (`leaseForMs` of reserve / renew, swept every LEASE_SWEEP_MS):
 *    the authority on whether a live process still holds a job. An expired or released lease
 *    rejects the callback, and the bus delivers the job again.
 * 3. The worker's sweep (worker/lease-sweep.ts): it renews a running attempt's lease each third
 *    of `leaseTtlMs` and aborts an attempt past its timeout. A timed-out attempt is not renewed,
 *    so clock 2 takes its job back from a handler that ignores the abort.
 *
 * A crashed process is thus caught by clock 1, a stuck handler in a live one by clocks 3 and 2;
 * the worker never sees clock 1 and the bus never sees clocks 2 and 3.
 */
import { randomBytes } from 'node:crypto';
import {
  ClosedError,
  describeError,
  InvalidArgumentError,
  isRefusedForGood,
  LeaseExpiredError,
  PublishRejectedError,
} from '../errors.js';
import { defaultLogger } from '../jobs/logger.js';
import { DEFAULTS } from '../jobs/config.js';
import type { DeadLettering, Job, Lease, NackOptions, ReserveOptions, Runtime } from '../jobs/types.js';
import { JobSettledElsewhere, RedeliverJob } from '../jobs/outcome.js';
import { settleRetryDelayMs } from '../jobs/settle-retry.js';
import { createPendingSettles, type SettleOp } from './pending-settles.js';
import type { RuntimeBackend, RuntimeBackendOptions } from './types.js';
import { createTakenBackWatch, HeldLease, withTimeout, type Held, type Waiter } from './held.js';

export type { BackendCounters, RuntimeBackend, RuntimeBackendOptions } from './types.js';

const RESOLVED: Promise<void> = Promise.resolve();

/** How often expired leases are looked for, ms: the precision of lease expiry. */
const LEASE_SWEEP_MS = 25;

/**
 * Leases over a push subscription: reserve hands out a job the subscription delivered and
 * holds its callback until the job is settled. ack resolves it; nack publishes the retry
 * copy (through the bus's delayed delivery) and then resolves it; moveToDLQ publishes the
 * dead-letter copy and then resolves it. An expired or released lease rejects it, so the
 * bus delivers the job again: nothing is lost. If a publish fails the original is handed
 * back to the bus too, and the error is thrown.
 */
export function createRuntimeBackend(runtime: Runtime & DeadLettering, options: RuntimeBackendOptions = {}): RuntimeBackend {
  const group = options.group ?? DEFAULTS.group;
  const maxInFlight = options.maxInFlight ?? 64;
  const ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
  const ownsRuntime = options.ownsRuntime ?? true;
  const settleTimeoutMs = options.settleTimeoutMs ?? Math.max(1_000, Math.floor((ackTimeoutMs * 2) / 3));
  const logger = options.logger ?? defaultLogger();
  /** Claimed jobs whose settle publish is in flight: kept alive like leases (U2). */
  const settling = new Set<Held>();
  const pending = createPendingSettles();
  let settleFailures = 0;
  const buffers = new Map<string, Held[]>();
  const subscribing = new Map<string, Promise<void>>();
  const leases = new Map<string, Held>();
  const waiters = new Set<Waiter>();
  const subscribed = new Set<string>();
  const detaching = new Set<string>();
  let closed = false;
  let leaseSweep: NodeJS.Timeout | undefined;
  // Lease tokens only need to be unique within this backend: a random prefix and a counter.
  const tokenPrefix = randomBytes(6).toString('hex');
  let tokenSeq = 0;

  // Keep the transport from presuming held jobs dead; lease expiry is the authority here.
  const keepAlive = setInterval(
    () => {
      for (const buf of buffers.values()) for (const h of buf) h.working();
      for (const h of leases.values()) h.working();
      for (const h of settling) h.working();
    },
    Math.max(100, Math.floor(ackTimeoutMs / 3)),
  );
  keepAlive.unref();

  function assertOpen(): void {
    if (closed) throw new ClosedError('backend is closed');
  }

  // U4: a buffered job whose delivery the bus took back is dropped (see held.ts).
  const { watch, unwatch } = createTakenBackWatch((held) => dropTakenBack(held));

  function offer(held: Held): void {
    for (const w of waiters) {
      if (w.queues.includes(held.queue)) {
        waiters.delete(w);
        w.resolve(held);
        return;
      }
    }
    let buf = buffers.get(held.queue);
    if (!buf) buffers.set(held.queue, (buf = []));
    buf.push(held);
    watch(held);
  }

  /** A buffered job whose delivery the bus took back leaves the buffer; a leased one runs on. */
  function dropTakenBack(held: Held): void {
    const buf = buffers.get(held.queue);
    const i = buf ? buf.indexOf(held) : -1;
    if (i < 0) return;
    buf!.splice(i, 1);
    finish(held, new RedeliverJob(0, 'delivery taken back by the bus'));
  }

  async function ensureSubscribed(queue: string): Promise<void> {
    let p = subscribing.get(queue);
    if (!p) {
      p = runtime.subscribe(
        queue,
        (job, ctx) =>
          new Promise<void>((resolve, reject) => {
            if (closed || detaching.has(queue)) {
              reject(new RedeliverJob(0, closed ? 'backend closed' : 'queue detached'));
              return;
            }
            const held: Held = {
              queue,
              job,
              deliveryCount: ctx.deliveryCount,
              working: ctx.working,
              signal: ctx.signal,
              resolve,
              reject,
              settled: false,
            };
            // The handler already ran and decided; only its copy is missing: publish it, do not run again.
            const again = pending.size > 0 ? pending.get(job) : undefined;
            if (again) void publishThenSettle(held, again, false).catch(() => undefined);
            else offer(held);
          }),
        { group, maxInFlight, ackTimeoutMs, ...(options.ordering && { ordering: options.ordering }) },
      );
      subscribing.set(queue, p);
      p.then(
        () => subscribed.add(queue),
        () => subscribing.delete(queue),
      );
    }
    await p;
  }

  /**
   * One timer expires every lease (checked every LEASE_SWEEP_MS) instead of a timer per lease;
   * it runs only while leases are held.
   */
  function sweepLeases(): void {
    const now = Date.now();
    for (const held of leases.values()) {
      if (held.expiresAt !== undefined && now >= held.expiresAt) finish(held, new RedeliverJob(0, 'lease expired'));
    }
    if (leases.size === 0 && leaseSweep) {
      clearInterval(leaseSweep);
      leaseSweep = undefined;
    }
  }

  function takeBuffered(queues: readonly string[]): Held | undefined {
    for (const q of queues) {
      const buf = buffers.get(q);
      while (buf && buf.length > 0) {
        const h = buf.shift()!;
        if (!h.signal?.aborted) return h;
        finish(h, new RedeliverJob(0, 'delivery taken back by the bus'));
      }
    }
    return undefined;
  }

  function lease(held: Held, leaseForMs: number): Lease {
    held.token = `${tokenPrefix}-${(++tokenSeq).toString(36)}`;
    leases.set(held.token, held);
    leaseSweep ??= setInterval(sweepLeases, LEASE_SWEEP_MS);
    return arm(held, leaseForMs);
  }

  function arm(held: Held, leaseForMs: number): Lease {
    held.expiresAt = Date.now() + leaseForMs;
    return new HeldLease(held.token!, held.job, held.queue, held.expiresAt, held.deliveryCount);
  }

  /** Settle once: resolve (undefined) or hand back to the bus (an error). */
  function finish(held: Held, redeliver: unknown): void {
    if (held.settled) return;
    held.settled = true;
    if (held.token) leases.delete(held.token);
    unwatch(held);
    if (redeliver === undefined) held.resolve();
    else held.reject(redeliver);
  }

  function claim(l: Lease, op: string): Held {
    const held = leases.get(l.token);
    if (!held || held.settled) {
      throw new LeaseExpiredError(
        l.job.id,
        `cannot ${op} job ${l.job.id}: its lease expired or was settled already; the job is redelivered`,
      );
    }
    // Taken off the lease table before any await so a concurrent settle cannot win twice.
    leases.delete(l.token);
    return held;
  }

  function publishOf(held: Held, op: SettleOp): Promise<void> {
    return op.kind === 'copy' ? runtime.publishCopy(op.copy) : runtime.deadLetter(held.job, op.reason);
  }

  /** Put a claimed job back on the lease table, for the caller to settle another way. */
  function restoreLease(held: Held): void {
    held.expiresAt = Math.max(held.expiresAt ?? 0, Date.now() + settleTimeoutMs);
    leases.set(held.token!, held);
    leaseSweep ??= setInterval(sweepLeases, LEASE_SWEEP_MS);
  }

  /** The settle failed: remember it, count it, and hand the job back to be tried again later. */
  function handBack(held: Held, op: SettleOp, err: unknown): void {
    const failures = pending.failed(held.job, op);
    settleFailures++;
    const refused = op.kind === 'dead-letter' && isRefusedForGood(err);
    const delayMs = settleRetryDelayMs(failures);
    logger.error(
      { queue: held.queue, jobId: held.job.id, attempt: held.job.attempt, failures, retryInMs: delayMs, err },
      refused
        ? 'the DLQ refused the job even with a minimal reason; it stays in its queue and the dead-letter publish is tried again later (the handler does not run again)'
        : `publishing the ${op.kind === 'copy' ? 'retry' : 'dead-letter'} copy failed; the job is handed back and the publish is tried again later (the handler does not run again)`,
    );
    finish(held, new RedeliverJob(delayMs, `settle publish failed: ${describeError(err)}`));
  }

  /**
   * Publish a settle's copy, then settle the original. While the publish runs the delivery is
   * kept alive, and the publish is bounded by `settleTimeoutMs` (U2). On failure:
   * - a retry copy the broker refuses for good, of a leased job: the lease stays held and a
   *   {@link PublishRejectedError} is thrown, so the caller can dead-letter the job instead;
   *   of a redelivered job whose copy is pending: the job is dead-lettered now;
   * - anything else: the job is handed back with a growing delay, and its next delivery
   *   publishes the copy again instead of running the handler (S1).
   */
  async function publishThenSettle(held: Held, op: SettleOp, leased: boolean): Promise<void> {
    settling.add(held);
    let failure: unknown;
    try {
      await withTimeout(publishOf(held, op), settleTimeoutMs, `settle publish of job ${held.job.id}`);
    } catch (err) {
      failure = err ?? new Error('settle publish failed');
    } finally {
      settling.delete(held);
    }
    if (failure === undefined) {
      pending.delete(held.job);
      finish(held, op.kind === 'dead-letter' ? new JobSettledElsewhere('moved to the DLQ') : undefined);
      return;
    }
    if (op.kind === 'copy' && isRefusedForGood(failure)) {
      const why = `the retry copy of job ${held.job.id} was refused for good: ${describeError(failure)}`;
      if (leased && !closed) {
        restoreLease(held);
        throw new PublishRejectedError(held.queue, `${why}; the lease is still held`, { cause: failure });
      }
      pending.delete(held.job);
      return publishThenSettle(held, { kind: 'dead-letter', reason: why }, false);
    }
    handBack(held, op, failure);
    throw failure;
  }

  const backend: RuntimeBackend = {
    enqueue: (job) => (assertOpen(), runtime.enqueue(job)),
    enqueueBatch: (jobs) => (assertOpen(), runtime.enqueueBatch(jobs)),

    async reserve(queue, leaseForMs, opts: ReserveOptions = {}) {
      assertOpen();
      const queues: readonly string[] = typeof queue === 'string' ? [queue] : queue;
      if (queues.length === 0) throw new InvalidArgumentError('reserve needs at least one queue');
      if (!Number.isFinite(leaseForMs) || leaseForMs <= 0) {
        throw new InvalidArgumentError(`leaseForMs must be > 0, got ${leaseForMs}`);
      }
      if (!queues.every((q) => subscribed.has(q))) await Promise.all(queues.map(ensureSubscribed));
      const ready = takeBuffered(queues);
      if (ready) return lease(ready, leaseForMs);
      const timeoutMs = opts.timeoutMs ?? DEFAULTS.reserveTimeoutMs;
      if (timeoutMs <= 0 || opts.signal?.aborted) return undefined;
      const held = await new Promise<Held | undefined>((resolve) => {
        const done = (h: Held | undefined): void => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          resolve(h);
        };
        const waiter: Waiter = { queues, resolve: done };
        const onAbort = (): void => {
          waiters.delete(waiter);
          done(undefined);
        };
        const timer = setTimeout(onAbort, timeoutMs);
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        waiters.add(waiter);
      });
      if (!held) return undefined;
      if (closed) {
        finish(held, new RedeliverJob(0, 'backend closed'));
        return undefined;
      }
      return lease(held, leaseForMs);
    },

    ack(l) {
      // Not async: the hottest call of the backend needs no extra promise when it succeeds.
      try {
        finish(claim(l, 'ack'), undefined);
        return RESOLVED;
      } catch (err) {
        return Promise.reject(err);
      }
    },

    async nack(l, nextRunAt, reason, opts: NackOptions = {}) {
      const held = claim(l, 'nack');
      const job = held.job;
      const copy: Job = {
        ...job,
        attempt: opts.countAttempt === false ? job.attempt : job.attempt + 1,
        runAt: nextRunAt,
        failure: { reason, failedAt: new Date() },
      };
      await publishThenSettle(held, { kind: 'copy', copy }, true);
    },

    async renew(l, leaseForMs) {
      const held = leases.get(l.token);
      if (!held || held.settled) {
        throw new LeaseExpiredError(l.job.id, `cannot renew job ${l.job.id}: its lease expired or was settled`);
      }
      held.working();
      return arm(held, leaseForMs);
    },

    async moveToDLQ(l, reason) {
      const held = claim(l, 'move to the DLQ');
      await publishThenSettle(held, { kind: 'dead-letter', reason }, true);
    },

    async release(l) {
      const held = leases.get(l.token);
      if (held) finish(held, new RedeliverJob(0, 'released'));
    },

    async healthCheck() {
      assertOpen();
      await runtime.healthCheck();
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(keepAlive);
      if (leaseSweep) clearInterval(leaseSweep);
      for (const w of waiters) w.resolve(undefined);
      waiters.clear();
      // Subscriptions first: closing them hands every held delivery back to the bus for the
      // rest of the group (settling our callbacks first would offer them to this very
      // subscription again). The callbacks settled afterwards are ignored by the bus.
      await Promise.allSettled([...subscribing.keys()].map((q) => runtime.unsubscribe(q)));
      const released = new RedeliverJob(0, 'backend closed');
      for (const h of leases.values()) finish(h, released);
      for (const buf of buffers.values()) for (const h of buf.splice(0)) finish(h, released);
      if (ownsRuntime) await runtime.close();
    },

    async detach(queues) {
      const detached: string[] = [];
      for (const q of queues) {
        if (!subscribing.has(q) || [...leases.values()].some((h) => h.queue === q)) continue;
        subscribing.delete(q);
        subscribed.delete(q);
        detaching.add(q);
        try {
          // Closing the subscription hands its unsettled deliveries back to the bus (for the
          // rest of the group); a delivery that still arrives meanwhile is refused. Only then
          // are the buffered callbacks settled: the bus ignores those late settles.
          await runtime.unsubscribe(q);
          const buffered = buffers.get(q)?.splice(0) ?? [];
          for (const h of buffered) finish(h, new RedeliverJob(0, 'worker stopped'));
        } finally {
          detaching.delete(q);
        }
        detached.push(q);
      }
      return detached;
    },

    bufferedCount: (queue) => buffers.get(queue)?.length ?? 0,
    // The bridge counts refused dead letters (of jobs and of poison messages) where they happen.
    counters: () => ({ settleFailures, deadLetterRefused: runtime.counters().deadLetterRefused }),
    leasedCount: () => leases.size,
  };
  return backend;
}
