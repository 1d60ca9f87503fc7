/**
 * Leases: an expired lease is redelivered and its late ack refused, renew extends a lease, a
 * timed-out attempt is aborted and counted as failed, and a backend holds at most
 * maxInFlight jobs of a queue.
 */
import { createJob } from '../../jobs/job.js';
import { LeaseExpiredError } from '../../errors.js';
import { deferred, elapse, waitFor } from '../wait.js';
import { FAST_RETRY, withTimeout, type ConformanceContext } from './context.js';

/** Register the lease cases (inside the suite's describe). */
export function leaseCases(ctx: ConformanceContext): void {
  const { it, expect, patience, queueName, newBus, newBackend, newWorker } = ctx;

  it('redelivers a job whose lease expired and refuses the late ack', async () => {
    const queue = queueName('lease');
    const backend = await newBackend();
    await backend.enqueue(createJob({ name: 'l', queue, payload: 'x' }));
    const first = await waitFor(() => backend.reserve(queue, 300, { timeoutMs: 200 }), 'first reserve', patience);
    const again = await waitFor(() => backend.reserve(queue, 5_000, { timeoutMs: 200 }), 'redelivery', patience);
    expect(again.job.id).toBe(first.job.id);
    expect(again.deliveryCount).toBeGreaterThan(first.deliveryCount);
    const late = backend.ack(first);
    await expect(late).rejects.toBeInstanceOf(LeaseExpiredError);
    await expect(late).rejects.toMatchObject({ code: 'LEASE_EXPIRED', retryable: false });
    await backend.ack(again);
  });

  it('renew extends a lease past its first expiry', async () => {
    const queue = queueName('renew');
    const backend = await newBackend();
    await backend.enqueue(createJob({ name: 'r', queue, payload: 'x' }));
    let lease = await waitFor(() => backend.reserve(queue, 400, { timeoutMs: 200 }), 'reserve', patience);
    const until = Date.now() + 1_200;
    while (Date.now() < until) {
      lease = await backend.renew(lease, 400);
      await elapse(100);
    }
    expect(await backend.reserve(queue, 400, { timeoutMs: 50 })).toBeUndefined();
    await backend.ack(lease);
  });

  it('aborts a timed-out attempt through its signal, counts it as failed, and never overlaps the retry', async () => {
    const queue = queueName('timeout');
    const backend = await newBackend();
    let running = 0;
    let overlap = false;
    const aborted: unknown[] = [];
    const done = deferred();
    await newWorker(backend, { queues: [queue], concurrency: 4, retry: { ...FAST_RETRY, attemptTimeoutMs: 200 } }, {
      slow: async (job, jobCtx) => {
        running++;
        if (running > 1) overlap = true;
        try {
          if (job.attempt === 0) {
            await new Promise<void>((resolve) =>
              jobCtx.signal.addEventListener('abort', () => {
                aborted.push(jobCtx.signal.reason);
                setTimeout(resolve, 150); // keeps running a little after the abort
              }),
            );
            return;
          }
          done.resolve();
        } finally {
          running--;
        }
      },
    });
    await backend.enqueue(createJob({ name: 'slow', queue, payload: 'x' }));
    await withTimeout(done.promise, patience, 'the retry');
    expect(aborted).toHaveLength(1);
    expect(aborted[0]).toMatchObject({ code: 'TIMEOUT' });
    expect(overlap).toBe(false);
  });

  it('bounds the jobs a backend holds per queue by maxInFlight', async () => {
    const queue = queueName('cap');
    const bus = await newBus();
    const backend = await newBackend(bus, 'capped', 5);
    await backend.enqueueBatch(Array.from({ length: 30 }, (_, i) => createJob({ name: 'c', queue, payload: { i } })));
    const first = await backend.reserve(queue, 10_000, { timeoutMs: patience });
    expect(first !== undefined).toBe(true);
    await waitFor(() => backend.bufferedCount(queue) === 4, 'the backend to hold maxInFlight jobs', patience);
    await elapse(300);
    expect(backend.bufferedCount(queue) + backend.leasedCount()).toBe(5);
  });
}
