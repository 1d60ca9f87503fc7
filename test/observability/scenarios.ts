/**
 * Metrics and tracing scenarios on one bus (memory in the unit project, NATS in integration):
 * the same jobs, counted and traced the same way whatever carries them.
 */
import { Registry } from 'prom-client';
import { PermanentError, RetryLaterError, createJobbus, type EventBus, type Jobbus, type JobbusOptions } from '../../src/index.js';
import { waitFor } from '../../src/testing/wait.js';

/** Fast retries: a failed attempt runs again within tens of ms. */
export const FAST_RETRY = { initialBackoffMs: 10, maxBackoffMs: 50, jitter: 0, attemptTimeoutMs: 5_000, maxAttempts: 3 };

/** A sample's value in a registry (0 when absent); `labels` must all match. */
export async function sample(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metrics = await registry.getMetricsAsJSON();
  let total = 0;
  for (const m of metrics) {
    for (const v of m.values as { metricName?: string; labels: Record<string, string | number>; value: number }[]) {
      if ((v.metricName ?? m.name) !== name) continue;
      if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) total += v.value;
    }
  }
  return total;
}

/** What {@link runMixedJobs} ran. */
export interface MixedRun {
  readonly jobs: Jobbus;
  readonly queue: string;
}

/**
 * Three jobs that complete, one that fails once then completes, one that fails for good (dead),
 * one put off once without spending an attempt (rescheduled, then completes). Resolves when all
 * six finished.
 */
export async function runMixedJobs(bus: EventBus, queue: string, options: Omit<JobbusOptions, 'bus'>, arrivalMs: number): Promise<MixedRun> {
  const jobs = createJobbus({ bus, ackTimeoutMs: 5_000, ...options });
  const seen = new Map<string, number>();
  const done = new Set<string>();
  const count = (id: string): number => {
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    return n;
  };
  const worker = jobs.worker({
    queues: [queue],
    retry: FAST_RETRY,
    handlers: {
      ok: (job) => void done.add(job.id),
      flaky: (job) => {
        if (count(job.id) === 1) throw new Error('flaky: first attempt fails');
        done.add(job.id);
      },
      bad: (job) => {
        done.add(job.id);
        throw new PermanentError('bad: never works');
      },
      later: (job) => {
        if (count(job.id) === 1) throw new RetryLaterError(20, 'later: not yet');
        done.add(job.id);
      },
    },
  });
  await worker.start();
  await jobs.enqueueBulk([
    { name: 'ok', queue, payload: 1 },
    { name: 'ok', queue, payload: 2 },
    { name: 'flaky', queue, payload: 3 },
    { name: 'bad', queue, payload: 4 },
    { name: 'later', queue, payload: 5 },
  ]);
  await jobs.enqueue({ name: 'ok', queue, payload: 6 });
  await waitFor(() => done.size === 6 && worker.running === 0, 'the six jobs to finish', arrivalMs);
  return { jobs, queue };
}
