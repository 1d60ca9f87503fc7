/**
 * Queue gauges read from the bus on scrape (no tracking store): per queue and group, jobs
 * waiting (Kafka: consumer lag), in flight, delayed, the age of the oldest waiting job, and
 * the DLQ size — the numbers of `jobs.stats()`, as Prometheus series.
 *
 * One read of the bus serves every gauge of a scrape: the first gauge collected starts it, the
 * others wait for the same answer (cached `maxAgeMs`). A bus that cannot answer (down, slow)
 * leaves the series out of that scrape rather than failing it or showing a stale number.
 */
import type * as Prom from 'prom-client';
import type { QueueStats } from '../queue-stats.js';

/** A source of queue stats, read on scrape. */
export type QueueStatsSource = () => Promise<readonly QueueStats[]>;

/** The queue gauges of one registry and the sources they read. */
export interface QueueGauges {
  add(source: QueueStatsSource): void;
  delete(source: QueueStatsSource): void;
}

/** Longest a scrape waits for the bus's answer, ms. */
const READ_TIMEOUT_MS = 5_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Register the queue gauges in `registers`; they read every source in `sources` on scrape. */
export function createQueueGauges(prom: typeof Prom, registers: Prom.Registry[], maxAgeMs = 1_000): QueueGauges {
  const sources = new Set<QueueStatsSource>();
  let cached: { at: number; read: Promise<QueueStats[]> } | undefined;

  /** Every source's stats, once per scrape; a failing or slow source contributes nothing. */
  function current(): Promise<QueueStats[]> {
    const now = Date.now();
    if (cached && now - cached.at < maxAgeMs) return cached.read;
    const read = Promise.all(
      [...sources].map(async (source) => (await withTimeout(source().catch(() => undefined), READ_TIMEOUT_MS)) ?? []),
    ).then((lists) => lists.flat());
    cached = { at: now, read };
    return read;
  }

  const labelNames = ['queue', 'group'] as const;
  function gauge(name: string, help: string, value: (s: QueueStats) => number | undefined, labels: readonly string[] = labelNames): void {
    new prom.Gauge({
      name,
      help,
      labelNames: [...labels],
      registers,
      async collect() {
        const stats = await current();
        this.reset();
        const seen = new Set<string>();
        for (const s of stats) {
          const v = value(s);
          const l: Record<string, string> = labels.length === 1 ? { queue: s.queue } : { queue: s.queue, group: s.group };
          const key = JSON.stringify(l);
          // Two sources of one queue and group (two workers of an instance) are one series.
          if (v === undefined || seen.has(key)) continue;
          seen.add(key);
          this.set(l, v);
        }
      },
    });
  }

  gauge('jobbus_queue_waiting', 'Jobs waiting to be taken by the group (Kafka: consumer lag), from the bus', (s) => s.waiting);
  gauge('jobbus_queue_in_flight', 'Jobs delivered to the group and not yet settled, where the bus can tell', (s) => s.inFlight);
  gauge('jobbus_queue_delayed', 'Jobs published to run later and not yet due, where the bus can tell', (s) => s.delayed);
  gauge('jobbus_queue_oldest_waiting_age_seconds', 'Age of the oldest waiting job, where the bus can tell', (s) =>
    s.oldestWaitingAt === undefined ? undefined : Math.max(0, (Date.now() - s.oldestWaitingAt.getTime()) / 1000),
  );
  gauge('jobbus_dlq_size', 'Dead letters in the queue\'s DLQ', (s) => s.dlqSize, ['queue']);
  return {
    add(source) {
      sources.add(source);
      cached = undefined;
    },
    delete(source) {
      sources.delete(source);
      cached = undefined;
    },
  };
}
