/** The metrics cases on one bus: a scrape after {@link runMixedJobs} shows what ran. */
import { Registry } from 'prom-client';
import { expect } from 'vitest';
import type { EventBus } from '../../src/index.js';
import { waitFor } from '../../src/testing/wait.js';
import { runMixedJobs, sample } from './scenarios.js';

/** Run the mixed jobs with metrics on and check every `jobbus_*` series they touch. */
export async function checkJobMetrics(bus: EventBus, queue: string, arrivalMs: number): Promise<void> {
  const registry = new Registry();
  const { jobs } = await runMixedJobs(bus, queue, { metrics: { registry } }, arrivalMs);
  try {
    const q = { queue };
    expect(await sample(registry, 'jobbus_jobs_enqueued_total', { ...q, job_name: 'ok' })).toBe(3);
    expect(await sample(registry, 'jobbus_jobs_enqueued_total', q)).toBe(6);
    // The hooks run after the settle: the last outcome may land just after the handler returned.
    await waitFor(async () => (await sample(registry, 'jobbus_jobs_processed_total', q)) === 8, 'eight settled attempts', arrivalMs);
    const processed = (job_name: string, outcome: string): Promise<number> => sample(registry, 'jobbus_jobs_processed_total', { ...q, job_name, outcome });
    expect(await processed('ok', 'completed')).toBe(3);
    expect(await processed('flaky', 'retried')).toBe(1);
    expect(await processed('flaky', 'completed')).toBe(1);
    expect(await processed('bad', 'dead')).toBe(1);
    expect(await processed('later', 'rescheduled')).toBe(1);
    expect(await processed('later', 'completed')).toBe(1);
    // One observation per attempt whose handler ran, by outcome.
    expect(await sample(registry, 'jobbus_job_attempt_duration_seconds_count', q)).toBe(8);
    expect(await sample(registry, 'jobbus_job_attempt_duration_seconds_count', { ...q, outcome: 'retried' })).toBe(1);
    expect(await sample(registry, 'jobbus_jobs_in_flight')).toBe(0);
    expect(await sample(registry, 'jobbus_lease_expiries_total')).toBe(0);
    // Queue gauges read from the bus on scrape: the dead job is the DLQ's one entry, nothing waits.
    await waitFor(async () => (await sample(registry, 'jobbus_dlq_size', q)) === 1, 'a DLQ size of 1', arrivalMs);
    await waitFor(async () => (await sample(registry, 'jobbus_queue_waiting', { ...q, group: 'jobbus' })) === 0, 'nothing waiting', arrivalMs);
    const text = await registry.metrics();
    expect(text).toContain(`jobbus_queue_waiting{queue="${queue}",group="jobbus"} 0`);
    expect(text).toContain('# TYPE jobbus_lease_renewals_total counter');
    expect(text).toContain(`jobbus_jobs_processed_total{queue="${queue}",job_name="bad",outcome="dead"} 1`);
  } finally {
    await jobs.close();
  }
}
