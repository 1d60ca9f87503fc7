/** Prometheus metrics on the memory bus: a scrape after real jobs shows what ran. */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createJobbus, NotInitializedError, registerSchedulerMetrics, type Jobbus } from '../../src/index.js';
import { createMemoryEventBus } from '../../src/eventbus/memory/index.js';
import { loadPeer } from '../../src/observability/peer.js';
import type { SchedulerCounters } from '../../src/scheduler/types.js';
import { deferred, waitFor } from '../../src/testing/wait.js';
import { checkJobMetrics } from './metrics-cases.js';
import { FAST_RETRY, sample } from './scenarios.js';

const open: Jobbus[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((j) => j.close()));
});

describe('metrics on the memory bus', () => {
  it('counts enqueued jobs, outcomes, attempt durations and jobs in flight', async () => {
    await checkJobMetrics(createMemoryEventBus(), 'metrics-mixed', 10_000);
  });

  it('exports the stats of queues it only enqueues to, and drops a closed instance\'s', async () => {
    const registry = new Registry();
    const jobs = createJobbus({ metrics: { registry, queues: ['backlog'] } });
    open.push(jobs);
    await jobs.enqueueBulk([1, 2, 3].map((n) => ({ name: 'x', queue: 'backlog', payload: n })));
    await jobs.enqueue({ name: 'x', queue: 'backlog', payload: 4, runAt: new Date(Date.now() + 60_000) });
    expect(await sample(registry, 'jobbus_queue_waiting', { queue: 'backlog', group: 'jobbus' })).toBe(3);
    expect(await sample(registry, 'jobbus_queue_delayed', { queue: 'backlog' })).toBe(1);
    expect(await sample(registry, 'jobbus_dlq_size', { queue: 'backlog' })).toBe(0);
    expect(await registry.metrics()).toContain('# TYPE jobbus_queue_oldest_waiting_age_seconds gauge');
    await jobs.close();
    expect(await registry.metrics()).not.toContain('jobbus_queue_waiting{');
  });

  it('counts lease renewals and expiries', async () => {
    const registry = new Registry();
    const jobs = createJobbus({ metrics: { registry } });
    open.push(jobs);
    const release = deferred();
    let runs = 0;
    // The first run outlives its 100 ms timeout and ignores the abort: its lease is no longer
    // renewed, expires after 150 ms, and the job is redelivered (the second run completes).
    const worker = jobs.worker({
      queues: ['leases'],
      concurrency: 2, // the stale first run keeps its slot
      leaseTtlMs: 150,
      retry: { ...FAST_RETRY, attemptTimeoutMs: 100 },
      handlers: { slow: async () => (++runs === 1 ? release.promise : undefined) },
    });
    await worker.start();
    await jobs.enqueue({ name: 'slow', queue: 'leases', payload: 1 });
    try {
      await waitFor(async () => (await sample(registry, 'jobbus_lease_expiries_total')) === 1, 'the lease to expire');
      await waitFor(() => runs === 2, 'the redelivery to run');
      expect(await sample(registry, 'jobbus_jobs_in_flight')).toBe(1); // the stale first run, still running
    } finally {
      release.resolve();
    }
    await waitFor(async () => (await sample(registry, 'jobbus_jobs_in_flight')) === 0, 'nothing in flight');

    const renewing = jobs.worker({ queues: ['renewals'], leaseTtlMs: 150, retry: FAST_RETRY, handlers: { long: () => new Promise((r) => setTimeout(r, 400)) } });
    await renewing.start();
    await jobs.enqueue({ name: 'long', queue: 'renewals', payload: 1 });
    await waitFor(async () => (await sample(registry, 'jobbus_jobs_processed_total', { queue: 'renewals', outcome: 'completed' })) === 1, 'the long job');
    expect(await sample(registry, 'jobbus_lease_renewals_total')).toBeGreaterThanOrEqual(2); // one each ~50 ms for 400 ms
  });

  it('adds several instances sharing a registry, and keeps a closed one\'s lease counts', async () => {
    const registry = new Registry();
    const [a, b] = [createJobbus({ metrics: { registry } }), createJobbus({ metrics: { registry } })];
    open.push(a, b);
    await a.enqueue({ name: 'x', queue: 'shared', payload: 1 });
    await b.enqueue({ name: 'x', queue: 'shared', payload: 2 });
    expect(await sample(registry, 'jobbus_jobs_enqueued_total', { queue: 'shared', job_name: 'x' })).toBe(2);
    await a.close();
    expect(await sample(registry, 'jobbus_jobs_enqueued_total', { queue: 'shared' })).toBe(2);
  });

  it('exports scheduler counters read on each scrape, and keeps them once unregistered', async () => {
    const registry = new Registry();
    let counters: SchedulerCounters = { fired: 3, lockedElsewhere: 2, skipped: 1, collapsed: 0, givenUp: 0 };
    const stop = registerSchedulerMetrics({ registry }, { counters: () => counters });
    const dispatches = (result: string): Promise<number> => sample(registry, 'jobbus_scheduler_dispatches_total', { result });
    expect(await dispatches('fired')).toBe(3);
    expect(await dispatches('locked_elsewhere')).toBe(2);
    counters = { ...counters, fired: 5, givenUp: 1 };
    expect(await dispatches('fired')).toBe(5);
    expect(await dispatches('given_up')).toBe(1);
    stop();
    counters = { ...counters, fired: 100 };
    expect(await dispatches('fired')).toBe(5);
    expect(await dispatches('skipped')).toBe(1);
  });

  it('names a missing peer in a NotInitializedError', () => {
    expect(() => loadPeer('jobbus-no-such-peer', '^1', 'jobbus metrics')).toThrow(NotInitializedError);
    expect(() => loadPeer('jobbus-no-such-peer', '^1', 'jobbus metrics')).toThrow(/"jobbus-no-such-peer" \(\^1\).*npm install jobbus-no-such-peer@\^1/);
  });
});
