/**
 * Each layer on the contract's interfaces: the lease backend over any Runtime & DeadLettering,
 * the worker over any Backend (prefetching is an optional capability), and the runtime
 * handler's outcomes (RedeliverJob, JobSettledElsewhere) translated by the bridge alone.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createJob, PermanentError, type Job } from '../../src/index.js';
import { createBusDLQStore, createEventBusBridge, createRuntimeBackend, createWorker } from '../../src/advanced.js';
import { createMemoryEventBus } from '../../src/eventbus/memory/index.js';
import { JobSettledElsewhere, RedeliverJob } from '../../src/jobs/outcome.js';
import { isPrefetching, type Backend, type DeadLettering, type Runtime } from '../../src/jobs/types.js';
import { deferred, waitFor } from '../support/wait.js';

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Only the methods of `keys`, so nothing else of the concrete object can be reached. */
function only<T extends object, K extends keyof T>(target: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) {
    const v = target[k];
    out[k] = (typeof v === 'function' ? v.bind(target) : v) as T[K];
  }
  return out;
}

const RUNTIME_KEYS = ['enqueue', 'enqueueBatch', 'subscribe', 'unsubscribe', 'healthCheck', 'close', 'publishCopy', 'deadLetter', 'counters'] as const;
const BACKEND_KEYS = ['enqueue', 'enqueueBatch', 'reserve', 'ack', 'nack', 'renew', 'moveToDLQ', 'release', 'healthCheck', 'close'] as const;

describe('contract seams', () => {
  it('a worker runs, retries and dead-letters jobs of two queues over a plain Backend on a plain Runtime & DeadLettering', async () => {
    const bus = createMemoryEventBus();
    const runtime: Runtime & DeadLettering = only(createEventBusBridge(bus, { logger: silent }), RUNTIME_KEYS);
    const full = createRuntimeBackend(runtime, { logger: silent });
    expect(isPrefetching(full)).toBe(true);
    const backend: Backend = only(full, BACKEND_KEYS);
    expect(isPrefetching(backend)).toBe(false);
    const worker = createWorker(backend, { queues: [{ name: 'a', priority: 1 }, 'b'], concurrency: 2, retry: { initialBackoffMs: 10, maxBackoffMs: 20, jitter: 0 } }, { logger: silent });
    cleanups.push(() => full.close(), () => worker.stop());
    const done: string[] = [];
    let flaky = 0;
    worker.register('ok', (job) => void done.push(job.queue));
    worker.register('flaky', () => {
      if (flaky++ === 0) throw new Error('once');
      done.push('flaky');
    });
    worker.register('doomed', () => {
      throw new PermanentError('never');
    });
    await worker.start();
    await backend.enqueueBatch([
      createJob({ name: 'ok', queue: 'a', payload: '1' }),
      createJob({ name: 'ok', queue: 'b', payload: '2' }),
      createJob({ name: 'flaky', queue: 'b', payload: '3' }),
      createJob({ name: 'doomed', queue: 'a', payload: '4' }),
    ]);
    const dlq = createBusDLQStore(bus);
    await waitFor(async () => done.length === 3 && (await dlq.listDLQ('a', 10)).length === 1, 'three jobs done and one dead-lettered');
    expect(done.sort()).toEqual(['a', 'b', 'flaky']);
    const [entry] = await dlq.listDLQ('a', 10);
    expect(entry!.job.failure?.reason).toMatch(/never/);
    expect(entry!.reason).toBe(entry!.job.failure?.reason);
  });

  it('the bridge translates RedeliverJob into a delayed redelivery and JobSettledElsewhere into no redelivery', async () => {
    const bus = createMemoryEventBus();
    const bridge = createEventBusBridge(bus, { logger: silent });
    cleanups.push(() => bridge.close());
    const seen: { id: string; count: number; at: number }[] = [];
    const terminated = deferred();
    await bridge.subscribe('q', async (job: Job, ctx) => {
      seen.push({ id: job.name, count: ctx.deliveryCount, at: Date.now() });
      if (job.name === 'later' && ctx.deliveryCount === 1) throw new RedeliverJob(150, 'not yet');
      if (job.name === 'elsewhere') {
        terminated.resolve();
        throw new JobSettledElsewhere('copied');
      }
    });
    await bridge.enqueue(createJob({ name: 'later', queue: 'q', payload: 'x' }));
    await bridge.enqueue(createJob({ name: 'elsewhere', queue: 'q', payload: 'y' }));
    await waitFor(() => seen.filter((s) => s.id === 'later').length === 2, 'the redelivery');
    const [first, second] = seen.filter((s) => s.id === 'later');
    expect(second!.count).toBe(2);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(140);
    expect(second!.at - first!.at).toBeLessThan(900); // its own delay, not the bus's default of 1 s
    await terminated.promise;
    await waitFor(() => bus.pendingCount('q', 'jobbus') === 0, 'nothing left to deliver');
    expect(seen.filter((s) => s.id === 'elsewhere')).toHaveLength(1);
  });
});
