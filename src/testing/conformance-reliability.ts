/**
 * Reliability cases of the jobs conformance suite (the review's findings that hold on every
 * bus): copies never lost to deduplication (L1), the backend's in-flight bound, DLQ replay in
 * one pass that never brings a replayed entry back (R4).
 */
import { createBusDLQStore } from '../bridge/dlq-store.js';
import { isBrowsable } from '../eventbus/types.js';
import { createJob, PermanentError, RetryLaterError } from '../index.js';
import type { ConformanceContext } from './conformance-context.js';
import { elapse, waitFor } from './wait.js';

/** Register the reliability cases (inside the suite's describe). */
export function reliabilityCases(ctx: ConformanceContext): void {
  const { it, expect, patience } = ctx;

  it('L1: a job rescheduled with RetryLaterError(0) over and over is never lost', async () => {
    const queue = ctx.queueName('l1');
    const backend = await ctx.newBackend();
    const runs: number[] = [];
    let done = false;
    await ctx.newWorker(backend, { queues: [queue] }, {
      poll: async () => {
        runs.push(Date.now());
        if (runs.length < 300) throw new RetryLaterError(0);
        done = true;
      },
    });
    await backend.enqueue(createJob({ name: 'poll', queue, payload: 'p' }));
    // On NATS a sub-millisecond reschedule used to collide with its own Nats-Msg-Id and vanish.
    await waitFor(() => done, 'the 300th run', patience * 3);
    expect(runs.length).toBe(300);
  }, 60_000);

  it('bounds the jobs a backend holds per queue by maxInFlight', async () => {
    const queue = ctx.queueName('cap');
    const bus = await ctx.newBus();
    const backend = await ctx.newBackend(bus, 'capped', 5);
    await backend.enqueueBatch(Array.from({ length: 30 }, (_, i) => createJob({ name: 'c', queue, payload: { i } })));
    const first = await backend.reserve(queue, 10_000, { timeoutMs: patience });
    expect(first !== undefined).toBe(true);
    await waitFor(() => backend.bufferedCount(queue) === 4, 'the backend to hold maxInFlight jobs', patience);
    await elapse(300);
    expect(backend.bufferedCount(queue) + backend.leasedCount()).toBe(5);
  });

  it('R4: replays selected DLQ entries in one pass; replayed entries never come back', async () => {
    const queue = ctx.queueName('replay');
    const bus = await ctx.newBus();
    if (!isBrowsable(bus)) return; // the DLQ store needs a browsable bus
    const backend = await ctx.newBackend(bus);
    const store = createBusDLQStore(bus);
    const runs = new Map<string, number>();
    let fail = true;
    await ctx.newWorker(backend, { queues: [queue] }, {
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
}
