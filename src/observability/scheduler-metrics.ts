/** The scheduler's dispatch counters as `jobbus_scheduler_dispatches_total{result}`, read on scrape. */
import type { SchedulerCounters } from '../scheduler/types.js';
import { registryMetrics, type DispatchCounts } from './metrics.js';
import type { MetricsOptions } from './types.js';

/** `result` label of each counter of {@link SchedulerCounters}. */
const RESULTS: Readonly<Record<keyof SchedulerCounters, string>> = {
  fired: 'fired',
  lockedElsewhere: 'locked_elsewhere',
  skipped: 'skipped',
  collapsed: 'collapsed',
  givenUp: 'given_up',
};

function dispatchCounts(c: SchedulerCounters): DispatchCounts {
  const out: Record<string, number> = {};
  for (const [key, result] of Object.entries(RESULTS)) out[result] = c[key as keyof SchedulerCounters];
  return out;
}

/**
 * Export a scheduler's counters (`jobbus/scheduler`) in the registry: each scrape reads
 * `scheduler.counters()`. Returns a function that stops reading it, keeping its last values
 * in the totals (call it when the scheduler stops for good).
 */
export function registerSchedulerMetrics(options: MetricsOptions, scheduler: { counters(): SchedulerCounters }): () => void {
  const m = registryMetrics(options);
  const read = (): DispatchCounts => dispatchCounts(scheduler.counters());
  m.dispatches.live.add(read);
  return () => {
    if (!m.dispatches.live.delete(read)) return;
    const last = read();
    const base: Record<string, number> = { ...m.dispatches.base };
    for (const [k, v] of Object.entries(last)) base[k] = (base[k] ?? 0) + v;
    m.dispatches.base = base;
  };
}
