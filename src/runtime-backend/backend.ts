import { randomBytes } from 'node:crypto';
import { ClosedError, InvalidArgumentError, LeaseExpiredError } from '../jobs/errors.js';
import { DEFAULTS } from '../jobs/config.js';
import type { Backend, Job, Lease, NackOptions, ReserveOptions } from '../jobs/types.js';
import { failureHeaders } from '../headers/dead-letter.js';
import { DeliveryTerminated, RedeliverAfter } from '../eventbus/types.js';
import type { EventBusBridge } from '../bridge/bridge.js';

/** Options of {@link createRuntimeBackend}. */
export interface RuntimeBackendOptions {
  /** Consumer group. Default `jobbus`. */
  readonly group?: string;
  /** Jobs held per queue at once, leased or buffered for the next reserve. Default 64. */
  readonly maxInFlight?: number;
  /** Transport ack timeout (how soon a crashed process's jobs come back), ms. Default 30 000. */
  readonly ackTimeoutMs?: number;
  /** Ordering of a queue's jobs by partition key. Default `key`. */
  readonly ordering?: 'key' | 'partition' | 'none';
  /** Close the runtime when the backend closes. Default true. */
  readonly ownsRuntime?: boolean;
}

/** A {@link Backend} built on a jobs runtime, exposing what it holds for tests and stats. */
export interface RuntimeBackend extends Backend {
  /** Reserve from several queues: the first queue in the list that has a job wins. */
  reserve(queue: string | readonly string[], leaseForMs: number, options?: ReserveOptions): Promise<Lease | undefined>;
  /** Jobs received and waiting for a reserve call, per queue. */
  bufferedCount(queue: string): number;
  /** Leases currently held. */
  leasedCount(): number;
  /** The DLQ name of a queue (as the bridge underneath names it). */
  dlqOf(queue: string): string;
  /**
   * Stop consuming `queues` and hand their prefetched (not reserved) jobs back to the bus for
   * other consumers. A queue that still has leases is left subscribed (another worker on this
   * backend uses it). A later reserve subscribes again. Returns the queues detached.
   */
  detach(queues: readonly string[]): Promise<string[]>;
}

/**
 * A job held by the backend. The bus subscription's callback for it stays pending until
 * the job is settled, which is what makes the transport keep (and not redeliver) it.
 *
 *   buffered --reserve--> leased --ack/nack/moveToDLQ--> settled (callback resolves)
 *      |                    |--lease expires / release--> settled (callback rejects: redelivered)
 *      `--close------------------------------------------> settled (callback rejects: redelivered)
 */
interface Held {
  readonly queue: string;
  readonly job: Job;
  readonly deliveryCount: number;
  readonly working: () => void;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  token?: string;
  expiresAt?: number;
  settled: boolean;
}

interface Waiter {
  readonly queues: readonly string[];
  readonly resolve: (held: Held | undefined) => void;
}

/** A lease handed out by reserve/renew; `expiresAt` becomes a Date only when read. */
class HeldLease implements Lease {
  constructor(
    readonly token: string,
    readonly job: Job,
    readonly queue: string,
    private readonly expiresAtMs: number,
    readonly deliveryCount: number,
  ) {}

  get expiresAt(): Date {
    return new Date(this.expiresAtMs);
  }
}

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
export function createRuntimeBackend(runtime: EventBusBridge, options: RuntimeBackendOptions = {}): RuntimeBackend {
  const group = options.group ?? DEFAULTS.group;
  const maxInFlight = options.maxInFlight ?? 64;
  const ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
  const ownsRuntime = options.ownsRuntime ?? true;
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
    },
    Math.max(100, Math.floor(ackTimeoutMs / 3)),
  );
  keepAlive.unref();

  function assertOpen(): void {
    if (closed) throw new ClosedError('backend is closed');
  }

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
  }

  async function ensureSubscribed(queue: string): Promise<void> {
    let p = subscribing.get(queue);
    if (!p) {
      p = runtime.subscribe(
        queue,
        (job, ctx) =>
          new Promise<void>((resolve, reject) => {
            if (closed || detaching.has(queue)) {
              reject(new RedeliverAfter(0, closed ? 'backend closed' : 'queue detached'));
              return;
            }
            offer({ queue, job, deliveryCount: ctx.deliveryCount, working: ctx.working, resolve, reject, settled: false });
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
      if (held.expiresAt !== undefined && now >= held.expiresAt) finish(held, new RedeliverAfter(0, 'lease expired'));
    }
    if (leases.size === 0 && leaseSweep) {
      clearInterval(leaseSweep);
      leaseSweep = undefined;
    }
  }

  function takeBuffered(queues: readonly string[]): Held | undefined {
    for (const q of queues) {
      const h = buffers.get(q)?.shift();
      if (h) return h;
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

  /**
   * Publish, then settle (`terminate`: the message now lives elsewhere, e.g. the DLQ); if the
   * publish fails, hand the job back to the bus and rethrow.
   */
  async function publishThenSettle(held: Held, publish: () => Promise<void>, terminate = false): Promise<void> {
    try {
      await publish();
    } catch (err) {
      finish(held, new RedeliverAfter(1_000, 'settle publish failed'));
      throw err;
    }
    finish(held, terminate ? new DeliveryTerminated('moved to the DLQ') : undefined);
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
        finish(held, new RedeliverAfter(0, 'backend closed'));
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
      const retry: Job = {
        ...job,
        attempt: opts.countAttempt === false ? job.attempt : job.attempt + 1,
        runAt: nextRunAt,
        headers: { ...job.headers, ...failureHeaders(reason) },
      };
      await publishThenSettle(held, () => runtime.enqueue(retry));
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
      await publishThenSettle(held, () => runtime.deadLetter(held.job, reason), true);
    },

    async release(l) {
      const held = leases.get(l.token);
      if (held) finish(held, new RedeliverAfter(0, 'released'));
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
      const released = new RedeliverAfter(0, 'backend closed');
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
          for (const h of buffered) finish(h, new RedeliverAfter(0, 'worker stopped'));
        } finally {
          detaching.delete(q);
        }
        detached.push(q);
      }
      return detached;
    },

    bufferedCount: (queue) => buffers.get(queue)?.length ?? 0,
    dlqOf: (queue) => runtime.dlqOf(queue),
    leasedCount: () => leases.size,
  };
  return backend;
}
