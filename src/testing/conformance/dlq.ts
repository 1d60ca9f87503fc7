/**
 * Dead letters: a job that exhausts its attempts or throws a PermanentError lands in its
 * queue's DLQ with the failure headers, and DLQ entries replay in one pass without coming
 * back (R4).
 */
import { createJob } from '../../jobs/job.js';
import { decodeJob, H as HEADERS } from '../../headers/index.js';
import { PermanentError } from '../../errors.js';
import { createBusDLQStore } from '../../bridge/dlq-store.js';
import { isBrowsable } from '../../eventbus/types.js';
import { elapse, waitFor } from '../wait.js';
import type { ConformanceContext } from './context.js';
import { dlqToolCases } from './dlq-tools.js';
import { dlqCrashCases } from './dlq-crash.js';

/** Register the dead-letter cases (inside the suite's describe). */
export function deadLetterCases(ctx: ConformanceContext): void {
  const { it, expect, patience, queueName, newBus, newBackend, newWorker, collect } = ctx;

  it('moves a job that exhausts its attempts to the DLQ with the failure headers', async () => {
    const queue = queueName('exhaust');
    const bus = await newBus();
    const backend = await newBackend(bus);
    const dlq = await collect(bus, `${queue}.dlq`);
    let calls = 0;
    await newWorker(backend, { queues: [queue] }, {
      doomed: async () => {
        calls++;
        throw new Error('always fails');
      },
    });
    const job = createJob({ name: 'doomed', queue, payload: 'x', maxAttempts: 3 });
    await backend.enqueue(job);
    await waitFor(() => dlq.length === 1, 'the DLQ entry', patience);
    const entry = dlq[0]!;
    expect(calls).toBe(3);
    expect(entry.headers[HEADERS.id]).toBe(job.id);
    expect(entry.headers[HEADERS.originalQueue]).toBe(queue);
    expect(entry.headers[HEADERS.failureReason]).toMatch(/always fails/);
    expect(entry.headers[HEADERS.failureReason]).toMatch(/3\/3/);
    expect(Number.isNaN(Date.parse(entry.headers[HEADERS.failedAt]!))).toBe(false);
    expect(decodeJob(entry, queue).attempt).toBe(2);
    await elapse(200);
    expect(calls).toBe(3); // no further attempts after dead-lettering
  });

  it('sends a PermanentError straight to the DLQ without retrying', async () => {
    const queue = queueName('perm');
    const bus = await newBus();
    const backend = await newBackend(bus);
    const dlq = await collect(bus, `${queue}.dlq`);
    let calls = 0;
    await newWorker(backend, { queues: [queue] }, {
      p: async () => {
        calls++;
        throw new PermanentError('bad customer id');
      },
    });
    await backend.enqueue(createJob({ name: 'p', queue, payload: 'x' }));
    await waitFor(() => dlq.length === 1, 'the DLQ entry', patience);
    expect(calls).toBe(1);
    expect(dlq[0]!.headers[HEADERS.failureReason]).toMatch(/PERMANENT.*bad customer id/);
  });

  it('R4: replays selected DLQ entries in one pass; replayed entries never come back', async () => {
    const queue = queueName('replay');
    const bus = await newBus();
    if (!isBrowsable(bus)) return; // the DLQ store needs a browsable bus
    const backend = await newBackend(bus);
    const store = createBusDLQStore(bus);
    const runs = new Map<string, number>();
    let fail = true;
    await newWorker(backend, { queues: [queue] }, {
      r: async (job) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        if (fail) throw new PermanentError('not yet');
      },
    });
    const jobs = Array.from({ length: 5 }, (_, i) => createJob({ name: 'r', queue, payload: { i } }));
    await backend.enqueueBatch(jobs);
    await waitFor(async () => (await store.listDLQ(queue, 100)).length === 5, 'five DLQ entries', patience);
    fail = false;
    const firstIds = jobs.slice(0, 3).map((j) => j.id);
    expect(await store.replayDLQ(queue, firstIds)).toBe(3);
    await waitFor(() => firstIds.every((id) => runs.get(id) === 2), 'the three replayed jobs to run again', patience);
    const left = (await store.listDLQ(queue, 100)).map((d) => d.job.id).sort();
    expect(left).toEqual(jobs.slice(3).map((j) => j.id).sort());
    expect(await store.replayDLQ(queue, left)).toBe(2);
    await waitFor(() => jobs.every((j) => runs.get(j.id) === 2), 'every job to run again', patience);
    expect(await store.listDLQ(queue, 100)).toHaveLength(0);
    expect(await store.replayDLQ(queue, firstIds)).toBe(0);
  });

  dlqToolCases(ctx); // list, replay, purge
  dlqCrashCases(ctx); // the interrupted replay
}
