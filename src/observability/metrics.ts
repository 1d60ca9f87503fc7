/**
 * Prometheus metrics through `prom-client` (an optional peer, loaded when metrics are asked for),
 * in a registry the application passes. Names and labels are documented in the README
 * ("Metrics and tracing").
 *
 * One set of metrics per registry: several jobbus instances (or a scheduler) sharing a registry
 * add to the same series instead of failing on a duplicate name. Values the workers, lease
 * backends and schedulers count themselves are read on scrape from the sources registered here.
 *
 *   source: registered (read on each scrape) --retire()--> its last values kept in a base, dropped
 */
import type * as Prom from 'prom-client';
import type { Job } from '../jobs/types.js';
import type { WorkerHooks } from '../worker/types.js';
import { loadPeer } from './peer.js';
import { createQueueGauges, type QueueGauges, type QueueStatsSource } from './queue-metrics.js';
import type { MetricsOptions, MetricsRegistry } from './types.js';

/** Default histogram buckets of attempt durations, seconds (5 ms to 5 min). */
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** What a lease backend counts (read on scrape). */
export interface LeaseCounts {
  readonly renewals: number;
  readonly expiries: number;
}

/** Scheduler counters by the `result` label of `jobbus_scheduler_dispatches_total`. */
export type DispatchCounts = Readonly<Record<string, number>>;

/** A source of numbers read on scrape, retired with its last values when its owner closes. */
interface Sources<T> {
  readonly live: Set<() => T>;
  base: T;
}

/** The metrics of one registry and the sources they read on scrape. */
interface RegistryMetrics {
  readonly enqueued: Prom.Counter<'queue' | 'job_name'>;
  readonly processed: Prom.Counter<'queue' | 'job_name' | 'outcome'>;
  readonly duration: Prom.Histogram<'queue' | 'job_name' | 'outcome'>;
  readonly inFlight: Set<() => number>;
  readonly leases: Sources<LeaseCounts>;
  readonly dispatches: Sources<DispatchCounts>;
  readonly queues: QueueGauges;
}

const byRegistry = new WeakMap<object, RegistryMetrics>();

function sumDispatches(a: DispatchCounts, b: DispatchCounts): DispatchCounts {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function totalOf<T>(sources: Sources<T>, add: (a: T, b: T) => T): T {
  let total = sources.base;
  for (const read of sources.live) total = add(total, read());
  return total;
}

const addLeases = (a: LeaseCounts, b: LeaseCounts): LeaseCounts => ({ renewals: a.renewals + b.renewals, expiries: a.expiries + b.expiries });

/** Create (or find) a metric of `name` in `registry`. */
function metric<T>(registry: MetricsRegistry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

function createRegistryMetrics(options: MetricsOptions): RegistryMetrics {
  const prom = loadPeer<typeof Prom>('prom-client', '^15', 'jobbus metrics');
  const registers = [options.registry as unknown as Prom.Registry];
  const inFlight = new Set<() => number>();
  const leases: Sources<LeaseCounts> = { live: new Set(), base: { renewals: 0, expiries: 0 } };
  const dispatches: Sources<DispatchCounts> = { live: new Set(), base: {} };
  const r = options.registry;
  const labelNames = ['queue', 'job_name', 'outcome'] as const;
  metric(r, 'jobbus_jobs_in_flight', () =>
    new prom.Gauge({ name: 'jobbus_jobs_in_flight', help: 'Jobs whose handler is running now', registers, collect() {
      let n = 0;
      for (const read of inFlight) n += read();
      this.set(n);
    } }),
  );
  // Counters kept elsewhere are set on scrape: reset, then add the current total.
  metric(r, 'jobbus_lease_renewals_total', () =>
    new prom.Counter({ name: 'jobbus_lease_renewals_total', help: 'Leases of running jobs renewed', registers, collect() {
      this.reset();
      this.inc(totalOf(leases, addLeases).renewals);
    } }),
  );
  metric(r, 'jobbus_lease_expiries_total', () =>
    new prom.Counter({ name: 'jobbus_lease_expiries_total', help: 'Leases that expired (the job went back to the bus for redelivery)', registers, collect() {
      this.reset();
      this.inc(totalOf(leases, addLeases).expiries);
    } }),
  );
  metric(r, 'jobbus_scheduler_dispatches_total', () =>
    new prom.Counter({ name: 'jobbus_scheduler_dispatches_total', help: 'Scheduler ticks by result', labelNames: ['result'], registers, collect() {
      this.reset();
      for (const [result, n] of Object.entries(totalOf(dispatches, sumDispatches))) this.inc({ result }, n);
    } }),
  );
  // Another copy of jobbus (two installs in one app) may have registered the gauges: it reads its own sources.
  const queues = r.getSingleMetric('jobbus_queue_waiting') ? { add: () => undefined, delete: () => undefined } : createQueueGauges(prom, registers);
  return {
    enqueued: metric(r, 'jobbus_jobs_enqueued_total', () =>
      new prom.Counter({ name: 'jobbus_jobs_enqueued_total', help: 'Jobs enqueued (accepted by the bus)', labelNames: ['queue', 'job_name'], registers }),
    ),
    processed: metric(r, 'jobbus_jobs_processed_total', () =>
      new prom.Counter({ name: 'jobbus_jobs_processed_total', help: 'Attempts settled, by outcome (completed, retried, rescheduled, dead)', labelNames, registers }),
    ),
    duration: metric(r, 'jobbus_job_attempt_duration_seconds', () =>
      new prom.Histogram({
        name: 'jobbus_job_attempt_duration_seconds',
        help: 'Attempt duration, from the handler starting to the outcome settled',
        labelNames,
        buckets: [...(options.buckets ?? DEFAULT_BUCKETS)],
        registers,
      }),
    ),
    inFlight,
    leases,
    dispatches,
    queues,
  };
}

/** The metrics of `options.registry` (created on first use). */
export function registryMetrics(options: MetricsOptions): RegistryMetrics {
  let m = byRegistry.get(options.registry);
  if (!m) {
    m = createRegistryMetrics(options);
    byRegistry.set(options.registry, m);
  }
  return m;
}

/** What one jobbus instance records into its registry. */
export interface JobbusMetrics {
  /** Count jobs the bus accepted. */
  enqueued(jobs: readonly Job[]): void;
  /** Worker hooks recording outcomes and durations. */
  readonly hooks: WorkerHooks;
  /** Read `running()` on each scrape (a worker's jobs in flight). */
  watchInFlight(running: () => number): void;
  /** Read a lease backend's counters on each scrape. */
  watchLeases(read: () => LeaseCounts): void;
  /** Read queue stats (waiting, DLQ size, …) from `source` on each scrape. */
  watchQueues(source: QueueStatsSource): void;
  /** Keep the last values of this instance's sources and stop reading them (on close). */
  retire(): void;
}

/** The metrics a jobbus instance records (see {@link JobbusMetrics}). */
export function createJobbusMetrics(options: MetricsOptions): JobbusMetrics {
  const m = registryMetrics(options);
  const inFlight = new Set<() => number>();
  const leaseReads = new Set<() => LeaseCounts>();
  const queueReads = new Set<QueueStatsSource>();
  // Attempt start times by job object: the same object reaches onStarted and the outcome hook.
  const started = new WeakMap<Job, number>();

  function settled(job: Job, outcome: string): void {
    const labels = { queue: job.queue, job_name: job.name, outcome };
    m.processed.inc(labels);
    const t = started.get(job);
    if (t === undefined) return; // put off before its handler ran (a limit): no duration
    started.delete(job);
    m.duration.observe(labels, (performance.now() - t) / 1000);
  }

  return {
    enqueued(jobs) {
      for (const job of jobs) m.enqueued.inc({ queue: job.queue, job_name: job.name });
    },
    hooks: {
      onStarted: (job) => void started.set(job, performance.now()),
      onCompleted: (job) => settled(job, 'completed'),
      onRetry: (job) => settled(job, 'retried'),
      onRescheduled: (job) => settled(job, 'rescheduled'),
      onDead: (job) => settled(job, 'dead'),
    },
    watchInFlight(running) {
      inFlight.add(running);
      m.inFlight.add(running);
    },
    watchLeases(read) {
      leaseReads.add(read);
      m.leases.live.add(read);
    },
    watchQueues(source) {
      queueReads.add(source);
      m.queues.add(source);
    },
    retire() {
      for (const read of inFlight) m.inFlight.delete(read);
      for (const read of queueReads) m.queues.delete(read);
      queueReads.clear();
      for (const read of leaseReads) {
        m.leases.base = addLeases(m.leases.base, read());
        m.leases.live.delete(read);
      }
      inFlight.clear();
      leaseReads.clear();
    },
  };
}
