/**
 * Pause and resume a queue for a group (jobs.pause / jobs.resume, src/control/): no new job of
 * a paused queue starts, running ones finish, the others wait on the bus with their attempts
 * unchanged and run after the resume; other queues keep running; every instance of the group
 * sees it, and so does one started after the pause.
 */
import { busKind } from '../../observability/tracing.js';
import { assembleJobbus, type AssembledJobbus } from '../../jobbus.js';
import type { EventBus } from '../../eventbus/types.js';
import type { Job } from '../../jobs/types.js';
import { createJob } from '../../jobs/job.js';
import { deferred, elapse, waitFor } from '../wait.js';
import { FAST_RETRY, silent, withTimeout, type ConformanceContext } from './context.js';

/** How often the instances of these cases read the control topic, ms. */
const POLL_MS = 200;

/** Register the pause cases (inside the suite's describe). */
export function pauseCases(ctx: ConformanceContext): void {
  const { it, expect, patience, queueName, newBus } = ctx;

  /** A jobbus instance of `group` on `bus` (not owning it), closed after the test. */
  function instance(bus: EventBus, group: string): AssembledJobbus {
    const made = assembleJobbus({ bus, group, ownsBus: false, logger: silent, controlPollMs: POLL_MS });
    ctx.cleanups.push(() => made.jobs.close());
    return made;
  }

  /** The bus of another process of the application: a new one on a broker, the same one in memory. */
  async function otherProcessBus(bus: EventBus): Promise<EventBus> {
    return busKind(bus) === 'memory' ? bus : newBus();
  }

  const workerConfig = { reserveTimeoutMs: 100, stopTimeoutMs: 2_000, leaseTtlMs: 10_000, retry: FAST_RETRY };

  it('pause: no new job starts, the running one finishes, other queues run; after resume the rest run with attempts unchanged', async () => {
    const queue = queueName('paused');
    const other = queueName('unpaused');
    const bus = await newBus();
    const a = instance(bus, queueName('grp'));
    const started: Job[] = [];
    const release = deferred();
    const slowStarted = deferred();
    const completed = new Set<string>();
    const w = a.jobs.worker({ queues: [queue], concurrency: 1, ...workerConfig, handlers: {
      slow: async (job) => {
        started.push(job);
        slowStarted.resolve();
        await release.promise;
      },
      quick: async (job) => void started.push(job),
    } });
    w.addHooks({ onCompleted: (job) => void completed.add(job.id) });
    const ranOther = deferred();
    await a.jobs.worker({ queues: [other], ...workerConfig, handlers: { quick: async () => ranOther.resolve() } }).start();
    await w.start();
    const slow = await a.jobs.enqueue(createJob({ name: 'slow', queue, payload: 's' }));
    await withTimeout(slowStarted.promise, patience, 'the slow job to start');
    const held = await a.jobs.enqueueBulk([1, 2].map((i) => createJob({ name: 'quick', queue, payload: { i } }))); // prefetched behind it
    await a.jobs.pause(queue);
    const paused = await a.jobs.paused();
    expect(paused.map((p) => p.queue)).toEqual([queue]);
    expect(paused[0]!.pausedAt).toBeInstanceOf(Date);
    const later = await a.jobs.enqueue(createJob({ name: 'quick', queue, payload: { i: 3 } }));
    await a.jobs.enqueue(createJob({ name: 'quick', queue: other, payload: 'o' }));
    await withTimeout(ranOther.promise, patience, 'the job of the other queue');
    release.resolve();
    await waitFor(() => completed.has(slow.id), 'the running job to complete', patience);
    // Held jobs go back to the bus: none leased or buffered here once the running one settled.
    await waitFor(() => a.leases().leasedCount() === 0 && a.leases().bufferedCount(queue) === 0, 'the held jobs handed back', patience);
    await elapse(POLL_MS * 3); // time passes: nothing of the paused queue starts
    expect(started.map((j) => j.id)).toEqual([slow.id]);
    const stats = await a.jobs.stats([queue, other]);
    expect(stats.map((s) => s.paused)).toEqual([true, false]);
    await a.jobs.resume(queue);
    expect(await a.jobs.paused()).toEqual([]);
    const waiting = [...held, later].map((j) => j.id);
    await waitFor(() => waiting.every((id) => started.some((j) => j.id === id)), 'the paused jobs to run after resume', patience * 2);
    expect(started.filter((j) => waiting.includes(j.id)).map((j) => j.attempt)).toEqual([0, 0, 0]);
  }, 60_000);

  it('pause: every instance of the group sees it, one started after the pause stays paused, and resume reaches it', async () => {
    const queue = queueName('paused-group');
    const group = queueName('grp');
    const busA = await newBus();
    const operator = instance(busA, group); // pauses and resumes, runs nothing
    const ran: Job[] = [];
    const b = instance(await otherProcessBus(busA), group);
    await b.jobs.worker({ queues: [queue], ...workerConfig, handlers: { j: async (job) => void ran.push(job) } }).start();
    const first = await operator.jobs.enqueue(createJob({ name: 'j', queue, payload: 0 }));
    await waitFor(() => ran.some((j) => j.id === first.id), 'a job before the pause', patience);
    await operator.jobs.pause(queue);
    await waitFor(() => b.leases().pausedQueues().includes(queue), 'the other instance to see the pause', POLL_MS * 10 + patience);
    const jobs = await operator.jobs.enqueueBulk([1, 2].map((i) => createJob({ name: 'j', queue, payload: i })));
    await elapse(POLL_MS * 3); // time passes: the paused instance starts nothing
    expect(ran.map((j) => j.id)).toEqual([first.id]);
    await b.jobs.close();
    // A restart: a new instance reads the pause before it takes any job.
    const c = instance(await otherProcessBus(busA), group);
    await c.jobs.worker({ queues: [queue], ...workerConfig, handlers: { j: async (job) => void ran.push(job) } }).start();
    await waitFor(() => c.leases().pausedQueues().includes(queue), 'the restarted instance to read the pause', patience);
    await elapse(POLL_MS * 3);
    expect(ran.map((j) => j.id)).toEqual([first.id]);
    expect((await c.jobs.paused()).map((p) => p.queue)).toEqual([queue]);
    await operator.jobs.resume(queue);
    const ids = jobs.map((j) => j.id);
    await waitFor(() => ids.every((id) => ran.some((j) => j.id === id)), 'the jobs to run after resume on the restarted instance', patience * 2);
    expect(ran.filter((j) => ids.includes(j.id)).map((j) => j.attempt)).toEqual([0, 0]);
  }, 90_000);
}
