/**
 * Where metrics and tracing attach to a jobbus instance: its enqueue path (jobs counted once
 * the bus accepted them, a producer span each) and its workers.
 */
import type { Job, Runtime } from '../jobs/types.js';
import type { QueueStats } from '../queue-stats.js';
import type { Worker } from '../worker/types.js';
import type { JobbusMetrics } from './metrics.js';
import type { JobbusTracing } from './tracing.js';

type Target = Pick<Runtime, 'enqueue' | 'enqueueBatch'>;

/** `target`, itself when neither metrics nor tracing is on (no cost when off). */
export function observeEnqueue(target: Target, metrics: JobbusMetrics | undefined, tracing: JobbusTracing | undefined): Target {
  if (!metrics && !tracing) return target;
  async function publish(jobs: readonly Job[], send: () => Promise<void>): Promise<void> {
    const end = tracing?.send(jobs);
    try {
      await send();
    } catch (err) {
      end?.(err);
      throw err;
    }
    end?.();
    metrics?.enqueued(jobs);
  }
  return {
    enqueue: (job) => publish([job], () => target.enqueue(job)),
    enqueueBatch: (jobs) => publish(jobs, () => target.enqueueBatch(jobs)),
  };
}

/** Trace (outermost middleware) and measure (hooks, jobs in flight) a worker; nothing when both are off. */
export function observeWorker(worker: Worker, metrics: JobbusMetrics | undefined, tracing: JobbusTracing | undefined): void {
  if (tracing) worker.use(tracing.middleware);
  if (metrics) {
    worker.addHooks(metrics.hooks);
    metrics.watchInFlight(() => worker.running);
  }
}

/** Export the stats of `queues` (read with `read` on each scrape) as queue gauges; nothing when metrics are off. */
export function observeQueues(
  metrics: JobbusMetrics | undefined,
  queues: readonly (string | { readonly name: string })[],
  read: (queues: readonly string[]) => Promise<readonly QueueStats[]>,
): void {
  if (!metrics || queues.length === 0) return;
  const names = queues.map((q) => (typeof q === 'string' ? q : q.name));
  metrics.watchQueues(() => read(names));
}
