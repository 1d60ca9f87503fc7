/** Delays: no job runs before its runAt, whether the producer asked the bus to delay it or not. */
import { createJob } from '../../jobs/job.js';
import { encodeJob } from '../../headers/index.js';
import { deferred, waitFor } from '../wait.js';
import { withTimeout, type ConformanceContext } from './context.js';

/** Register the delay cases (inside the suite's describe). */
export function delayCases(ctx: ConformanceContext): void {
  const { it, expect, patience, queueName, newBus, newBackend, newWorker } = ctx;

  it('never runs a delayed job before its runAt', async () => {
    const queue = queueName('delay');
    const backend = await newBackend();
    const started = new Map<string, number>();
    await newWorker(backend, { queues: [queue], concurrency: 4 }, {
      d: async (job) => void started.set(job.id, Date.now()),
    });
    const now = Date.now();
    // The first due time leaves the immediate job 1.5 s to arrive: on Kafka under a busy CI
    // machine, 600 ms was sometimes not enough, which says nothing about early delivery.
    const jobs = [1_500, 2_100, 2_700].map((ms) => createJob({ name: 'd', queue, payload: 'x', runAt: new Date(now + ms) }));
    const immediate = createJob({ name: 'd', queue, payload: 'now' });
    for (const j of jobs) await backend.enqueue(j);
    await backend.enqueue(immediate);
    await waitFor(() => started.size === 4, 'all delayed jobs', patience + 2_000);
    for (const j of jobs) expect(started.get(j.id)!).toBeGreaterThanOrEqual(j.runAt.getTime());
    expect(started.get(immediate.id)!).toBeLessThan(jobs[0]!.runAt.getTime());
  });

  it('holds back a job published with a future job_run_at but no delay (foreign producer)', async () => {
    const queue = queueName('foreign');
    const bus = await newBus();
    const backend = await newBackend(bus);
    const got = deferred<number>();
    await newWorker(backend, { queues: [queue] }, { f: async () => got.resolve(Date.now()) });
    const runAt = new Date(Date.now() + 800);
    const job = createJob({ name: 'f', queue, payload: 'x', runAt });
    await bus.publish(queue, encodeJob(job)); // no deliverAt: arrives at once
    const at = await withTimeout(got.promise, patience, 'the early job');
    expect(at).toBeGreaterThanOrEqual(runAt.getTime());
  });
}
