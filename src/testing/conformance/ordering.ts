/** Ordering: jobs with equal partition keys run one at a time, in the order they were enqueued. */
import { createJob } from '../../jobs/job.js';
import { elapse, waitFor } from '../wait.js';
import type { ConformanceContext } from './context.js';

/** Register the ordering cases (inside the suite's describe). */
export function orderingCases(ctx: ConformanceContext): void {
  const { it, expect, patience, queueName, newBackend, newWorker } = ctx;

  it('runs jobs with equal partition keys one at a time, in order', async () => {
    const queue = queueName('order');
    const backend = await newBackend();
    const order: Record<string, number[]> = { a: [], b: [] };
    const active = new Set<string>();
    let sameKeyOverlap = false;
    await newWorker(backend, { queues: [queue], concurrency: 8 }, {
      o: async (job) => {
        const { key, i } = JSON.parse(new TextDecoder().decode(job.payload)) as { key: string; i: number };
        if (active.has(key)) sameKeyOverlap = true;
        active.add(key);
        await elapse(5);
        order[key]!.push(i);
        active.delete(key);
      },
    });
    const jobs = Array.from({ length: 20 }, (_, i) => {
      const key = i % 2 === 0 ? 'a' : 'b';
      return createJob({ name: 'o', queue, payload: { key, i }, partitionKey: key });
    });
    await backend.enqueueBatch(jobs);
    await waitFor(() => order.a!.length + order.b!.length === 20, 'all ordered jobs', patience);
    expect(sameKeyOverlap).toBe(false);
    expect(order.a).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(order.b).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
  });
}
