/**
 * Shutdown: stopping a worker drains, then aborts and releases; a stopped worker and a closed
 * backend hand their jobs back to the group.
 */
import { createJob } from '../../jobs/job.js';
import type { Job } from '../../jobs/types.js';
import { deferred, elapse, waitFor } from '../wait.js';
import { withTimeout, type ConformanceContext } from './context.js';

/** Register the shutdown cases (inside the suite's describe). */
export function shutdownCases(ctx: ConformanceContext): void {
  const { it, expect, patience, queueName, newBus, newBackend, newWorker } = ctx;

  it('stop drains in-flight jobs before resolving', async () => {
    const queue = queueName('drain');
    const bus = await newBus();
    const backend = await newBackend(bus);
    const started = deferred();
    let finished = false;
    const worker = await newWorker(backend, { queues: [queue] }, {
      work: async () => {
        started.resolve();
        await elapse(300);
        finished = true;
      },
    });
    await backend.enqueue(createJob({ name: 'work', queue, payload: 'x' }));
    await withTimeout(started.promise, patience, 'job start');
    await worker.stop();
    expect(finished).toBe(true);
    // It was acked: a new worker on the same backend sees nothing.
    let again = 0;
    await newWorker(backend, { queues: [queue] }, { work: async () => void again++ });
    await elapse(500);
    expect(again).toBe(0);
  });

  it('stop aborts jobs still running after stopTimeout and releases them for redelivery', async () => {
    const queue = queueName('stoptimeout');
    const backend = await newBackend();
    const started = deferred();
    let sawAbort = false;
    const worker = await newWorker(backend, { queues: [queue], stopTimeoutMs: 200 }, {
      stuck: async (_job, jobCtx) => {
        started.resolve();
        await new Promise<void>((resolve) => jobCtx.signal.addEventListener('abort', () => resolve()));
        sawAbort = true;
        throw new Error('aborted');
      },
    });
    const job = createJob({ name: 'stuck', queue, payload: 'x' });
    await backend.enqueue(job);
    await withTimeout(started.promise, patience, 'job start');
    await worker.stop();
    expect(sawAbort).toBe(true);
    const redelivered = deferred<Job>();
    await newWorker(backend, { queues: [queue] }, { stuck: async (j) => redelivered.resolve(j) });
    const j = await withTimeout(redelivered.promise, patience, 'redelivery');
    expect(j.id).toBe(job.id);
    expect(j.attempt).toBe(0); // released, not failed
  });

  it('a stopped worker hands its prefetched jobs back to the group at once', async () => {
    const queue = queueName('handback');
    const bus = await newBus();
    const a = await newBackend(bus, 'workers', 16);
    const first = deferred();
    const ranOnA: string[] = [];
    const workerA = await newWorker(a, { queues: [queue], concurrency: 1 }, {
      h: async (job) => {
        ranOnA.push(job.id);
        first.resolve();
        await elapse(100);
      },
    });
    const jobs = Array.from({ length: 5 }, (_, i) => createJob({ name: 'h', queue, payload: { i } }));
    await a.enqueueBatch(jobs);
    await withTimeout(first.promise, patience, 'the first job on worker a');
    await workerA.stop(); // backend a stays open
    const ranOnB = new Set<string>();
    const b = await newBackend(bus, 'workers', 16);
    await newWorker(b, { queues: [queue], concurrency: 4 }, { h: async (job) => void ranOnB.add(job.id) });
    await waitFor(() => ranOnA.length + ranOnB.size >= 5, 'every job on a or b', patience * 2);
    expect(new Set([...ranOnA, ...ranOnB])).toEqual(new Set(jobs.map((j) => j.id)));
  });

  it('close releases outstanding leases and prefetched jobs so another consumer gets them', async () => {
    const queue = queueName('close');
    const bus = await newBus();
    const a = await newBackend(bus);
    const jobs = Array.from({ length: 5 }, (_, i) => createJob({ name: 'c', queue, payload: { i } }));
    await a.enqueueBatch(jobs);
    const lease = await waitFor(() => a.reserve(queue, 30_000, { timeoutMs: 200 }), 'reserve on a', patience);
    await waitFor(() => a.bufferedCount(queue) === 4, 'the other four prefetched by a', patience);
    await a.close();
    const b = await newBackend(bus);
    const seen = new Set<string>();
    await waitFor(
      async () => {
        const l = await b.reserve(queue, 5_000, { timeoutMs: 200 });
        if (l) {
          seen.add(l.job.id);
          await b.ack(l);
        }
        return seen.size === 5;
      },
      'all five on b',
      patience,
    );
    expect(seen.has(lease.job.id)).toBe(true);
  });
}
