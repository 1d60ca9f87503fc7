/**
 * The workload every leg of the comparison runs (bench/compare.ts), and the pieces of it the
 * single-bus benchmarks (bench/kafka.ts, bench/nats.ts) share: N jobs with a 100-byte JSON
 * payload, enqueued in batches of 500, consumed with concurrency 64 by a no-op handler; the
 * same jobs encoded once as wire messages for the raw-driver legs; and the low-load latency
 * probe (one job every 10 ms).
 */
import { createJob, type Job } from '../../src/index.js';
import { encodeJob } from '../../src/headers/index.js';
import type { Message } from '../../src/eventbus/types.js';
import { percentile } from '../lib.js';

/** Jobs per enqueue batch (BullMQ: one addBulk). */
export const BATCH = 500;
/** Handlers running at once (and the raw consumers' messages in flight, where they have a knob). */
export const CONCURRENCY = 64;
/** The job name every leg uses. */
export const JOB_NAME = 'noop';
/** The payload: `{"p":"xxx…"}`, exactly 100 bytes of JSON. */
export const PAYLOAD: { readonly p: string } = { p: 'x'.repeat(92) };

/** `n` jobs for `queue` with the 100-byte payload; `extra(i)` adds fields (a key, a runAt). */
export function makeJobs(queue: string, n: number, extra: (i: number) => { partitionKey?: string; runAt?: Date } = () => ({})): Job[] {
  return Array.from({ length: n }, (_, i) => createJob({ name: JOB_NAME, queue, payload: PAYLOAD, ...extra(i) }));
}

/** The same jobs as the bus puts them on the wire (value + `job_*` headers), for the raw legs. */
export function encodedJobs(queue: string, n: number): Message[] {
  return makeJobs(queue, n).map(encodeJob);
}

/** `items` in slices of {@link BATCH}. */
export function* batches<T>(items: readonly T[], size = BATCH): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** The monotonic clock (µs, the clock of V8 CPU profiles) at `performance.now()` 0. */
const perfOriginUs = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;

/** The last measured window in monotonic µs (to cut a `--cpu-prof` profile to it, bench/profile-summary.ts). */
export let lastWindowUs: readonly [number, number] = [0, 0];

/**
 * A throughput leg's figure: items per second between the first enqueue and the last handled
 * (`performance.now()` values). Also remembers the window as {@link lastWindowUs}.
 */
export function ratePerSecond(n: number, startMs: number, endMs: number): number {
  lastWindowUs = [Math.round(perfOriginUs + startMs * 1000), Math.round(perfOriginUs + endMs * 1000)];
  return n / ((endMs - startMs) / 1000);
}

/** Enqueue-to-handler-start percentiles of a latency probe, in ms. */
export interface LatencyFigures {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * The low-load latency probe: `n` jobs sent one at a time, `gapMs` apart (default 300 jobs,
 * one per 10 ms). `send(i)` enqueues the i-th and resolves when the enqueue call returns;
 * `started()` says how many handlers have started so far; `startedAt` maps each job's index to
 * the `performance.now()` of its handler start (filled by the caller's handler).
 */
export async function latencyProbe(
  send: (i: number) => Promise<void>,
  startedAt: Map<number, number>,
  { n = 300, gapMs = 10 } = {},
): Promise<LatencyFigures> {
  const sentAt = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    sentAt.set(i, performance.now());
    await send(i);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  const deadline = Date.now() + 60_000;
  while (startedAt.size < n) {
    if (Date.now() > deadline) throw new Error(`bench: latency probe saw ${startedAt.size} of ${n} jobs start`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const lat = [...startedAt].map(([i, t]) => t - sentAt.get(i)!);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), max: Math.max(...lat) };
}

/** Run `call` `n` times from `callers` concurrent callers, each awaiting its previous call. */
export async function concurrently(n: number, callers: number, call: () => Promise<unknown>): Promise<void> {
  let left = n;
  const caller = async (): Promise<void> => {
    while (left > 0) {
      left--;
      await call();
    }
  };
  await Promise.all(Array.from({ length: Math.min(callers, n) }, caller));
}
