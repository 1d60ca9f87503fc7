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
import { ClosedError, InvalidArgumentError } from '../errors.js';
import { defaultLogger } from '../jobs/logger.js';
import { DEFAULTS } from '../jobs/config.js';
import type { DeadLettering, DeliveryContext, Job, NackOptions, ReserveOptions, Runtime } from '../jobs/types.js';
import { RedeliverJob, type JobSettledElsewhere } from '../jobs/outcome.js';
import { enterSettled, enterSettling, type Held } from './held.js';
import { createIntake } from './intake.js';
import { createLeaseTable } from './lease-table.js';
import { createSettler } from './settle.js';
import { createQueueSubscriptions } from './subscriptions.js';
import { createPausedQueues } from './paused-queues.js';
import type { RuntimeBackend, RuntimeBackendOptions } from './types.js';

export type { BackendCounters, RuntimeBackend, RuntimeBackendOptions } from './types.js';

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Leases over a push subscription: reserve hands out a job the subscription delivered and
 * holds its callback until the job is settled. ack resolves it; nack publishes the retry
 * copy (through the bus's delayed delivery) and then resolves it; moveToDLQ publishes the
 * dead-letter copy and then resolves it. An expired or released lease rejects it, so the
 * bus delivers the job again: nothing is lost. If a publish fails the original is handed
 * back to the bus too, and the error is thrown. The pieces: subscriptions.ts (one per queue,
 * made by its first reserve), intake.ts (buffers and waiting reserves), lease-table.ts (leases
 * and their expiry), settle.ts (publish, then settle), all moving a job only through the
 * transitions of held.ts.
 */
export function createRuntimeBackend(runtime: Runtime & DeadLettering, options: RuntimeBackendOptions = {}): RuntimeBackend {
  const group = options.group ?? DEFAULTS.group;
  const maxInFlight = options.maxInFlight ?? 64;
  const ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
  const ownsRuntime = options.ownsRuntime ?? true;
  const settleTimeoutMs = options.settleTimeoutMs ?? Math.max(1_000, Math.floor((ackTimeoutMs * 2) / 3));
  const logger = options.logger ?? defaultLogger();
  let closed = false;

  // Paused queues (src/control/): none of their jobs is handed out; see pauseQueue below.
  const paused = createPausedQueues();
  const intake = createIntake((held) => finish(held, new RedeliverJob(0, 'delivery taken back by the bus')), (q) => paused.has(q));
  // Lease renewals and expiries are counted for the metrics (jobbus_lease_*_total).
  let leaseRenewals = 0;
  let leasesExpired = 0;
  const leases = createLeaseTable((held) => {
    leasesExpired++;
    finish(held, new RedeliverJob(0, 'lease expired'));
  });

  /** Settle once: resolve (`undefined`) or hand back to the bus (a signal); a settled job is left alone. */
  function finish(held: Held, outcome: RedeliverJob | JobSettledElsewhere | undefined): void {
    if (!enterSettled(held)) return;
    leases.forget(held);
    if (outcome === undefined) held.resolve();
    else held.reject(outcome);
    if (paused.size > 0 && paused.has(held.queue)) void detachWhenIdle(held.queue);
  }

  const settler = createSettler({
    runtime,
    settleTimeoutMs,
    logger,
    finish,
    restore: (held, untilMs) => leases.restore(held, untilMs),
    isClosed: () => closed,
  });

  // Clock 1 (see the top of this file): keep the transport from presuming held jobs dead.
  const keepAlive = setInterval(
    () => {
      for (const h of intake.buffered()) h.delivery.working();
      for (const h of leases.all()) h.delivery.working();
      for (const h of settler.inFlight) h.delivery.working();
    },
    Math.max(100, Math.floor(ackTimeoutMs / 3)),
  );
  keepAlive.unref();

  function assertOpen(): void {
    if (closed) throw new ClosedError('backend is closed');
  }

  /** The subscription callback: hold the delivered job until it is settled. */
  function hold(queue: string, job: Job, ctx: DeliveryContext): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (closed || subscriptions.detaching(queue)) {
        reject(new RedeliverJob(0, closed ? 'backend closed' : 'queue detached'));
        return;
      }
      // token, leaseSeq and expiresAt in the literal (set when leased): a property added later would cost
      // every held job a property array of its own.
      const held: Held = { queue, job, deliveryCount: ctx.deliveryCount, delivery: ctx, signal: ctx.signal, resolve, reject, state: 'buffered', token: undefined, leaseSeq: undefined, expiresAt: undefined };
      // The handler already ran and decided; only its copy is missing: publish it, do not run again.
      const again = settler.pendingFor(job);
      if (again) {
        enterSettling(held);
        void settler.publishThenSettle(held, again, false).catch(() => undefined);
      } else {
        intake.offer(held);
      }
    });
  }

  const subscribeOptions = { group, maxInFlight, ackTimeoutMs, ...(options.ordering && { ordering: options.ordering }) };
  const subscriptions = createQueueSubscriptions(runtime, subscribeOptions, hold);

  /** Stop consuming one queue and hand its buffered jobs back; false when it is not subscribed or still has leases. */
  async function detachOne(queue: string): Promise<boolean> {
    if (!subscriptions.has(queue) || leases.hasQueue(queue)) return false;
    // Closing the subscription hands its unsettled deliveries back to the bus (for the rest of
    // the group). Only then are the buffered callbacks settled: the bus ignores those late settles.
    await subscriptions.detach(queue, () => {
      for (const h of intake.drain(queue)) finish(h, new RedeliverJob(0, 'worker stopped'));
    });
    return true;
  }

  /**
   * A paused queue's subscription is closed once none of its jobs is leased or settling (those
   * finish and settle normally through it): its prefetched jobs go back to the bus unchanged
   * (no attempt spent) and none comes in until a reserve after the resume subscribes again.
   */
  async function detachWhenIdle(queue: string): Promise<void> {
    if (detachingPaused.has(queue)) return;
    detachingPaused.add(queue);
    try {
      await new Promise((resolve) => setImmediate(resolve)); // let the settle that called us reach the bus first
      const busy = leases.hasQueue(queue) || [...settler.inFlight].some((h) => h.queue === queue);
      if (closed || !paused.has(queue) || busy || !subscriptions.has(queue)) return;
      await subscriptions.detach(queue, () => {
        for (const h of intake.drain(queue)) finish(h, new RedeliverJob(0, 'queue paused'));
      });
    } catch (err) {
      logger.warn({ err, queue }, 'could not hand back the prefetched jobs of a paused queue; they stay held until resume or close');
    } finally {
      detachingPaused.delete(queue);
    }
  }
  const detachingPaused = new Set<string>();

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
      const gating = paused.gate(opts.signal);
      if (gating) await gating;
      if (closed || opts.signal?.aborted) return undefined;
      let active = paused.active(queues);
      if (active.length === 0) {
        await paused.waitForResume(opts.timeoutMs ?? DEFAULTS.reserveTimeoutMs, opts.signal);
        return undefined;
      }
      const subscribing = subscriptions.ensure(active);
      if (subscribing) {
        await subscribing;
        active = paused.active(active); // paused meanwhile
      }
      const ready = intake.take(active);
      if (ready) return leases.lease(ready, leaseForMs);
      const timeoutMs = opts.timeoutMs ?? DEFAULTS.reserveTimeoutMs;
      if (timeoutMs <= 0 || opts.signal?.aborted) return undefined;
      const held = active.length ? await intake.wait(active, timeoutMs, opts.signal) : undefined;
      if (!held) return undefined;
      if (closed) {
        finish(held, new RedeliverJob(0, 'backend closed'));
        return undefined;
      }
      return leases.lease(held, leaseForMs);
    },

    reserveReady(queues, leaseForMs) {
      // Only what reserve would hand out without waiting: anything else is left to reserve.
      if (closed || paused.gated() || !(leaseForMs > 0 && Number.isFinite(leaseForMs))) return undefined;
      const active = paused.active(queues);
      if (active.length === 0 || !subscriptions.subscribed(active)) return undefined;
      const ready = intake.take(active);
      return ready ? leases.lease(ready, leaseForMs) : undefined;
    },

    ack(l) {
      // Not async: the hottest call of the backend needs no extra promise when it succeeds.
      try {
        finish(leases.claim(l, 'ack'), undefined);
        return RESOLVED;
      } catch (err) {
        return Promise.reject(err);
      }
    },

    ackNow(l) {
      finish(leases.claim(l, 'ack'), undefined);
    },

    async nack(l, nextRunAt, reason, opts: NackOptions = {}) {
      const held = leases.claim(l, 'nack');
      const job = held.job;
      const copy: Job = {
        ...job,
        attempt: opts.countAttempt === false ? job.attempt : job.attempt + 1,
        runAt: nextRunAt,
        failure: { reason, failedAt: new Date() },
      };
      await settler.publishThenSettle(held, { kind: 'copy', copy }, true);
    },

    renew: async (l, leaseForMs) => {
      const renewed = leases.renew(l, leaseForMs);
      leaseRenewals++;
      return renewed;
    },

    async moveToDLQ(l, reason) {
      const held = leases.claim(l, 'move to the DLQ');
      await settler.publishThenSettle(held, { kind: 'dead-letter', reason }, true);
    },

    async release(l) {
      const held = leases.find(l);
      if (held) finish(held, new RedeliverJob(0, 'released'));
    },

    async healthCheck() {
      assertOpen();
      await runtime.healthCheck();
    },

    async close() {
      if (closed) return;
      closed = true;
      paused.release();
      clearInterval(keepAlive);
      leases.stop();
      intake.cancelWaits();
      // Subscriptions first: closing them hands every held delivery back to the bus for the
      // rest of the group (settling our callbacks first would offer them to this very
      // subscription again). The callbacks settled afterwards are ignored by the bus.
      await subscriptions.closeAll();
      const released = new RedeliverJob(0, 'backend closed');
      for (const h of leases.all()) finish(h, released);
      for (const h of intake.drain()) finish(h, released);
      if (ownsRuntime) await runtime.close();
    },

    async detach(queues) {
      const detached: string[] = [];
      for (const q of queues) if (await detachOne(q)) detached.push(q);
      return detached;
    },

    pauseQueue(queue) {
      if (!paused.pause(queue)) return;
      logger.info({ queue, group }, 'queue paused: no new job of it starts here; running ones finish, prefetched ones go back to the bus');
      void detachWhenIdle(queue);
    },
    resumeQueue(queue) {
      if (!paused.resume(queue)) return;
      logger.info({ queue, group }, 'queue resumed: its jobs start here again');
      intake.cancelWaits(); // waiting reserves come back at once and reserve with the queue again
    },
    gateUntil: (ready) => paused.gateUntil(ready),
    pausedQueues: () => paused.list(),
    bufferedCount: (queue) => intake.bufferedCount(queue),
    // The runtime counts refused dead letters (of jobs and of poison messages) where they happen.
    counters: () => ({ settleFailures: settler.failures(), deadLetterRefused: runtime.counters().deadLetterRefused, leaseRenewals, leasesExpired }),
    leasedCount: () => leases.size,
  };
  return backend;
}
