/**
 * The output of bench/compare.ts: every run and the medians (throughput, then latency), the
 * ratios against the targets of issue 19, and the last line `RESULT {json}`.
 */
import * as os from 'node:os';
import { median, printResult, printTable, round } from '../lib.js';
import type { LatencyFigures } from './shared.js';

/** Everything one comparison run measured. */
export interface Figures {
  /** Throughput per leg id (`kafka-jobbus-kafkajs`, `nats-raw`, `kafka-bullmq`…), one entry per repetition, /s. */
  readonly runs: Record<string, number[]>;
  /** Latency per leg id (`latency-kafka-kafkajs`, `latency-nats`, `latency-bullmq`), one entry per repetition. */
  readonly latency: Record<string, LatencyFigures[]>;
  /** `os.loadavg()` before the first leg and after the last. */
  loadBefore: number[];
  loadAfter: number[];
  /** The Kafka drivers measured, the bus's default first. */
  kafkaDrivers: ('kafkajs' | 'platformatic')[];
}

/** The driver the headline Kafka ratios use: the bus's default (BENCH_KAFKA_HEADLINE overrides). */
const headlineDriver = (drivers: readonly string[]): string | undefined => process.env.BENCH_KAFKA_HEADLINE ?? drivers[0];

const med = (xs: readonly number[] | undefined): number => (xs && xs.length ? median(xs) : NaN);
const ratio = (a: number, b: number): number | null => (Number.isFinite(a / b) ? round(a / b, 3) : null);
const ms = (x: number): number | null => (Number.isFinite(x) ? round(x, 1) : null);

/** `a / b` per repetition (the legs of one repetition ran back to back), as text. */
function perRun(a: readonly number[] | undefined, b: readonly number[] | undefined): string {
  if (!a || !b) return '';
  return a.map((x, i) => (b[i] ? (x / b[i]).toFixed(2) : '-')).join(' / ');
}

/** The ratio rows and their RESULT fields for one jobbus leg against raw and BullMQ. */
function ratios(f: Figures, jobbus: string, raw: string, bullmq: string) {
  const j = med(f.runs[jobbus]);
  return {
    vsBullmq: ratio(j, med(f.runs[bullmq])),
    vsRaw: ratio(j, med(f.runs[raw])),
    perRunBullmq: perRun(f.runs[jobbus], f.runs[bullmq]),
    perRunRaw: perRun(f.runs[jobbus], f.runs[raw]),
  };
}

/** Median p50 and p99 of a latency leg, ms. */
function latencyOf(f: Figures, id: string): { p50: number | null; p99: number | null } {
  const l = f.latency[id];
  return { p50: ms(med(l?.map((x) => x.p50))), p99: ms(med(l?.map((x) => x.p99))) };
}

/** Print the tables and the RESULT line. */
export function report(f: Figures, { jobs, reps }: { jobs: number; reps: number }): void {
  const load = (xs: readonly number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  const runHeads = Array.from({ length: reps }, (_, i) => `run ${i + 1}`);
  console.log(`\n${os.cpus().length} cores, Node ${process.version}; load average before ${load(f.loadBefore)}, after ${load(f.loadAfter)}`);
  printTable(
    `Throughput, /s (${jobs} jobs, 100-byte payload, batches of 500, concurrency 64; runs in the order they ran, alternating per repetition)`,
    ['leg', ...runHeads, 'median'],
    Object.entries(f.runs).map(([id, xs]) => [id, ...runHeads.map((_, i) => (xs[i] !== undefined ? Math.round(xs[i]) : '')), Math.round(med(xs))]),
  );
  console.log('');
  printTable(
    'Latency, enqueue to handler start at low load (300 jobs, one per 10 ms), ms',
    ['leg', ...runHeads.map((r) => `${r} p50/p99`), 'median p50', 'median p99'],
    Object.entries(f.latency).map(([id, ls]) => [id, ...runHeads.map((_, i) => (ls[i] ? `${ls[i].p50.toFixed(1)}/${ls[i].p99.toFixed(1)}` : '')), ...Object.values(latencyOf(f, id)).map(String)]),
  );

  const byDriver = Object.fromEntries(
    f.kafkaDrivers.map((d) => [d, { ...ratios(f, `kafka-jobbus-${d}`, `kafka-raw-${d}`, 'kafka-bullmq'), latency: latencyOf(f, `latency-kafka-${d}`) }]),
  );
  const nats = ratios(f, 'nats-jobbus', 'nats-raw', 'nats-bullmq');
  const rows: (string | number)[][] = [];
  for (const [d, r] of Object.entries(byDriver)) {
    rows.push([`Kafka (${d}) jobbus / BullMQ`, '>= 2.0', String(r.vsBullmq), r.perRunBullmq]);
    rows.push([`Kafka (${d}) jobbus / raw ${d}`, '>= 0.75', String(r.vsRaw), r.perRunRaw]);
    rows.push([`Kafka (${d}) latency p99 ms`, '<= 25', String(r.latency.p99), '']);
  }
  rows.push(['NATS jobbus / BullMQ', '>= 1.3', String(nats.vsBullmq), nats.perRunBullmq]);
  rows.push(['NATS jobbus / raw JetStream', '>= 0.8', String(nats.vsRaw), nats.perRunRaw]);
  rows.push(['NATS latency p99 ms', '<= 10', String(latencyOf(f, 'latency-nats').p99), '']);
  console.log('');
  printTable('Ratios (of the medians) and targets (issue 19)', ['ratio', 'target', 'median', 'per repetition'], rows);

  const head = headlineDriver(f.kafkaDrivers);
  const k = head ? byDriver[head] : undefined;
  const nl = latencyOf(f, 'latency-nats');
  const bl = latencyOf(f, 'latency-bullmq');
  printResult({
    kafka_vs_bullmq: k?.vsBullmq ?? null,
    kafka_vs_raw: k?.vsRaw ?? null,
    nats_vs_bullmq: nats.vsBullmq,
    nats_vs_raw: nats.vsRaw,
    kafka_latency_p50_ms: k?.latency.p50 ?? null,
    kafka_latency_p99_ms: k?.latency.p99 ?? null,
    nats_latency_p50_ms: nl.p50,
    nats_latency_p99_ms: nl.p99,
    bullmq_latency_p50_ms: bl.p50,
    bullmq_latency_p99_ms: bl.p99,
    kafka_driver: head ?? null,
    kafka_by_driver: Object.fromEntries(Object.entries(byDriver).map(([d, r]) => [d, { vs_bullmq: r.vsBullmq, vs_raw: r.vsRaw, latency_p50_ms: r.latency.p50, latency_p99_ms: r.latency.p99 }])),
    medians: Object.fromEntries(Object.entries(f.runs).map(([id, xs]) => [id, Math.round(med(xs))])),
    runs: Object.fromEntries(Object.entries(f.runs).map(([id, xs]) => [id, xs.map(Math.round)])),
    latency_runs: Object.fromEntries(Object.entries(f.latency).map(([id, ls]) => [id, ls.map((l) => ({ p50: ms(l.p50), p99: ms(l.p99), max: ms(l.max) }))])),
    jobs,
    reps,
    cores: os.cpus().length,
    node: process.version,
    load_before: f.loadBefore.map((x) => round(x, 2)),
    load_after: f.loadAfter.map((x) => round(x, 2)),
  });
}
