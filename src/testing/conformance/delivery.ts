/**
 * Delivery: a job arrives intact, batches run once each, `concurrency` handlers run at once,
 * a group shares a queue while every group sees it, and a job-name limit puts jobs off.
 */
import { createJob } from '../../jobs/job.js';
import type { Job } from '../../jobs/types.js';
import { deferred, elapse, waitFor } from '../wait.js';
import { withTimeout, FAST_RETRY, type ConformanceContext } from './context.js';

/** Register the delivery cases (inside the suite's describe). */
export function deliveryCases(ctx: ConformanceContext): void {
  const { it, expect, patience, queueName, newBus, newBackend, newWorker } = ctx;

  it('processes an enqueued job with its payload, headers and metadata intact', async () => {
    const queue = queueName('basic');
    const backend = await newBackend();
    const got = deferred<Job>();
    await newWorker(backend, { queues: [queue] }, { hello: async (job) => got.resolve(job) });
    const job = createJob({
      name: 'hello',
      queue,
      payload: { greeting: 'héllo wörld ✓' },
      headers: { 'x-trace': 'abc', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      tenantId: 'acme',
      correlationId: 'corr-1',
      idempotencyKey: 'idem-1',
    });
    await backend.enqueue(job);
    const received = await withTimeout(got.promise, patience, 'job delivery');
    expect(received.id).toBe(job.id);
    expect(received.name).toBe('hello');
    expect(received.queue).toBe(queue);
    expect(JSON.parse(new TextDecoder().decode(received.payload))).toEqual({ greeting: 'héllo wörld ✓' });
    expect(received.headers['x-trace']).toBe('abc');
    expect(received.headers.traceparent).toBe(job.headers.traceparent);
    expect(received.tenantId).toBe('acme');
    expect(received.correlationId).toBe('corr-1');
    expect(received.idempotencyKey).toBe('idem-1');
    expect(received.attempt).toBe(0);
    expect(received.createdAt.getTime()).toBe(job.createdAt.getTime());
  });

  it('publishes a batch with enqueueBatch and runs every job once', async () => {
    const queue = queueName('batch');
    const backend = await newBackend();
    const seen = new Map<string, number>();
    await newWorker(backend, { queues: [queue], concurrency: 8 }, {
      b: async (job) => void seen.set(job.id, (seen.get(job.id) ?? 0) + 1),
    });
    const jobs = Array.from({ length: 50 }, (_, i) => createJob({ name: 'b', queue, payload: { i } }));
    await backend.enqueueBatch(jobs);
    await waitFor(() => seen.size === 50, 'all 50 jobs', patience);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });

  it('runs `concurrency` handlers at the same time', async () => {
    const queue = queueName('conc');
    const backend = await newBackend();
    let running = 0;
    let peak = 0;
    const release = deferred();
    await newWorker(backend, { queues: [queue], concurrency: 4 }, {
      c: async () => {
        running++;
        peak = Math.max(peak, running);
        await release.promise;
        running--;
      },
    });
    await backend.enqueueBatch(Array.from({ length: 6 }, (_, i) => createJob({ name: 'c', queue, payload: { i } })));
    await waitFor(() => running === 4, '4 handlers running at once', patience);
    await elapse(100);
    expect(peak).toBe(4); // never more than the concurrency
    release.resolve();
    await waitFor(() => running === 0 && peak === 4, 'handlers to finish', patience);
  });

  it('shares a queue between competing workers of one group and delivers to every group', async () => {
    const queue = queueName('groups');
    const bus = await newBus();
    const a = await newBackend(bus, 'g1');
    const b = await newBackend(bus, 'g1');
    const other = await newBackend(bus, 'g2');
    const g1 = new Map<string, number>();
    const g2 = new Set<string>();
    const count = (job: Job): void => void g1.set(job.id, (g1.get(job.id) ?? 0) + 1);
    await newWorker(a, { queues: [queue] }, { g: async (j) => count(j) });
    await newWorker(b, { queues: [queue] }, { g: async (j) => count(j) });
    await newWorker(other, { queues: [queue] }, { g: async (j) => void g2.add(j.id) });
    await a.enqueueBatch(Array.from({ length: 40 }, (_, i) => createJob({ name: 'g', queue, payload: { i } })));
    await waitFor(() => g1.size === 40 && g2.size === 40, 'both groups to see all jobs', patience);
    await elapse(200);
    expect([...g1.values()].every((n) => n === 1)).toBe(true);
  });

  it('puts off jobs over a job-name concurrency limit without losing them or spending attempts', async () => {
    const queue = queueName('limit');
    const backend = await newBackend();
    let running = 0;
    let peak = 0;
    const attempts: number[] = [];
    await newWorker(backend, { queues: [queue], concurrency: 6, limits: { lim: { concurrency: 2 } }, retry: { ...FAST_RETRY, maxAttempts: 1 } }, {
      lim: async (job) => {
        peak = Math.max(peak, ++running);
        attempts.push(job.attempt);
        await elapse(30);
        running--;
      },
    });
    await backend.enqueueBatch(Array.from({ length: 8 }, (_, i) => createJob({ name: 'lim', queue, payload: { i } })));
    await waitFor(() => attempts.length === 8, 'all 8 jobs', patience * 2);
    expect(peak).toBeLessThan(3);
    expect(attempts.every((a) => a === 0)).toBe(true);
  });
}
