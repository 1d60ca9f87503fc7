/**
 * The reserve loop of a running worker: whenever fewer than `concurrency` jobs run (and a
 * queue's own cap allows), reserve a job from the queues in priority order with the fairness
 * limit (queue-order.ts) and start it, so `concurrency` handlers really run at once.
 *
 *   reserving --a job--> start it --> reserving
 *       |--no free slot or queue--> waiting for a change (a job finished) --> reserving
 *       |--reserve failed--> backing off (100 ms doubling to 5 s) --> reserving
 *       `--stop (signal aborts) or the backend closed--> done (a job reserved meanwhile is released)
 */
import type { Logger } from 'pino';
import { ClosedError } from '../errors.js';
import type { QueueSpec, WorkerConfig } from '../jobs/config.js';
import type { Backend, Lease } from '../jobs/types.js';
import type { HookEmitter } from './hooks.js';
import { createQueueOrder } from './queue-order.js';

/** Longest back-off between failed reserves, ms. */
const MAX_RESERVE_BACKOFF_MS = 5_000;

/** What a dispatcher needs of its worker. */
export interface DispatcherDeps {
  readonly backend: Backend;
  readonly config: Pick<WorkerConfig, 'queues' | 'fairnessLimit' | 'concurrency' | 'leaseTtlMs' | 'reserveTimeoutMs'>;
  /** A job ready to lease at once, without a promise (a prefetching backend's `reserveReady`), if the backend has that. */
  readonly reserveReady?: (queues: readonly string[], leaseForMs: number) => Lease | undefined;
  /** Whether a queue has jobs waiting (for fairness); unknown = true. */
  readonly waiting: (queue: string) => boolean;
  /** Jobs running now. */
  readonly running: () => number;
  /** Resolves when a job finishes or stop begins. */
  readonly changed: () => Promise<void>;
  /** Whether the worker still takes jobs. */
  readonly isRunning: () => boolean;
  /** Start a reserved job (not awaited). */
  readonly start: (lease: Lease) => void;
  readonly emit: HookEmitter;
  readonly logger: Logger;
}

/** The dispatcher of one worker. */
export interface Dispatcher {
  /** Reserve once from the queues that may take a job now; for `processOne`. */
  reserveOnce(timeoutMs: number): Promise<Lease | undefined>;
  /** The loop; resolves when the worker stops taking jobs or `stop` aborts. */
  run(stop: AbortSignal): Promise<void>;
  /** A job of `queue` started (+1) or finished (-1): queue concurrency bookkeeping. */
  track(queue: string, by: 1 | -1): void;
}

/** `ms` later, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Create the dispatcher of a worker. */
export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const { backend, config, logger } = deps;
  const queueOrder = createQueueOrder(config.queues, config.fairnessLimit, deps.waiting);

  /** Reserve from the first queue of `order` that has a job, and count who was passed over. */
  async function reserveFrom(order: readonly QueueSpec[], timeoutMs: number, signal?: AbortSignal): Promise<Lease | undefined> {
    const lease = await backend.reserve(queueOrder.namesOf(order), config.leaseTtlMs, { timeoutMs, ...(signal && { signal }) });
    if (lease) queueOrder.picked(order, lease.queue);
    return lease;
  }

  /** {@link reserveFrom} without waiting: a job ready now, or undefined (a throw counts as none: the reserve call reports it). */
  function readyFrom(order: readonly QueueSpec[]): Lease | undefined {
    let lease: Lease | undefined;
    try {
      lease = deps.reserveReady!(queueOrder.namesOf(order), config.leaseTtlMs);
    } catch {
      return undefined;
    }
    if (lease) queueOrder.picked(order, lease.queue);
    return lease;
  }

  async function run(stop: AbortSignal): Promise<void> {
    let failures = 0;
    while (deps.isRunning()) {
      const order = deps.running() < config.concurrency ? queueOrder.order() : [];
      if (order.length === 0) {
        await deps.changed();
        continue;
      }
      // A job already buffered is leased without a promise; the reserve call waits for one.
      let lease = deps.reserveReady ? readyFrom(order) : undefined;
      try {
        lease ??= await reserveFrom(order, config.reserveTimeoutMs, stop);
        failures = 0;
      } catch (err) {
        if (err instanceof ClosedError) break;
        failures++;
        logger.error({ err }, 'reserve failed; retrying');
        await deps.emit('onError', err);
        await sleep(Math.min(MAX_RESERVE_BACKOFF_MS, 100 * 2 ** Math.min(failures, 6)), stop);
        continue;
      }
      if (!lease) continue;
      if (!deps.isRunning()) {
        await backend.release(lease).catch(() => undefined);
        break;
      }
      deps.start(lease);
    }
  }

  return {
    reserveOnce: (timeoutMs) => reserveFrom(queueOrder.order(), timeoutMs),
    run,
    track: (queue, by) => queueOrder.track(queue, by),
  };
}
