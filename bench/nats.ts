/**
 * NATS JetStream benchmark: `npm run bench:nats`.
 *
 * Scenarios (median of BENCH_REPS repetitions each, default 3; the server from JOBBUS_NATS_URL,
 * default nats://127.0.0.1:4222):
 * - e2e_jobs_per_s: 50,000 no-op jobs through the full stack (NATS bus -> bridge -> runtime
 *   backend -> worker with concurrency 64), enqueued with enqueueBatch in batches of 500;
 *   clock from the first enqueue to the last job handled.
 * - raw_msgs_per_s: the same 50,000 messages (the encoded jobs: the 100-byte payload and the
 *   same job_* headers, built before the clock starts) with plain @nats-io/jetstream:
 *   pipelined publishes awaiting every PubAck, a pull consumer acking each message
 *   (bench/workloads/nats-raw.ts, shared with `npm run bench`).
 * - ratio = e2e / raw (target >= 0.6), from the medians; the table also shows each run's
 *   ratio (raw and e2e measured back to back), which is steadier on a shared machine.
 * - raw_notrace_msgs_per_s / ratio_vs_notrace: the raw client with `noAsyncTraces` (which
 *   the adapter sets), for reference.
 * - delay_p99_late_ms / delay_early: 1,000 jobs due 2 s ahead; how late the p99 ran and
 *   how many ran before their runAt (must be 0).
 * - latency_p50_ms / latency_p99_ms: 300 jobs enqueued one at a time every 5 ms; enqueue
 *   to handler start.
 * Env: BENCH_JOBS (default 50000), BENCH_REPS (default 3), BENCH_ONLY=raw,e2e,delay,latency (a
 * subset, e.g. for profiling), BENCH_CLEANUP_MS (the bus's cleanupIntervalMs, e.g. 100000000:
 * no janitor during the run, to see what the retention janitor costs; on nats-server < 2.9.15
 * it deletes settled jobs one by one, on the same cores as the benchmark), BENCH_ACK_MODE,
 * BENCH_VERBOSE. Prints a table, then as the last line `RESULT {json}` (bench/lib.ts: the
 * shape shared with the other benchmarks).
 */
import pino from 'pino';
import { createJob, type Job } from '../src/index.js';
import { createEventBusBridge, createRuntimeBackend, createWorker } from '../src/advanced.js';
import { createNatsEventBus } from '../src/eventbus/nats/index.js';
import { benchReps, envNumber, median, percentile, printResult, printTable, progress, round, runMain, until } from './lib.js';
import { deleteStreams, NATS_URL as URL, rawJetStream } from './workloads/nats-raw.js';
import { BATCH, PAYLOAD } from './workloads/shared.js';

const N = envNumber('BENCH_JOBS', 50_000);
const REPS = benchReps();
const silent = pino({ level: 'silent' });
const tag = `bench_${Date.now().toString(36)}`;
const say = progress('bench:nats');

/** One full-stack setup on a fresh queue; `onJob` sees every handled job. */
async function stack(run: string, onJob: (job: Job) => void) {
  const subjectPrefix = `${tag}_${run}`;
  const bus = await createNatsEventBus({ servers: URL, subjectPrefix, logger: silent, ...(process.env.BENCH_CLEANUP_MS && { cleanupIntervalMs: Number(process.env.BENCH_CLEANUP_MS) }), ...(process.env.BENCH_ACK_MODE && { ackMode: process.env.BENCH_ACK_MODE as 'confirmed' | 'flushed' | 'fast' }) });
  const bridge = createEventBusBridge(bus, { logger: silent });
  const backend = createRuntimeBackend(bridge, { group: 'bench', maxInFlight: 128 });
  const queue = 'jobs';
  const worker = createWorker(backend, { queues: [queue], concurrency: 64 }, { logger: silent });
  worker.register('noop', async (job) => onJob(job));
  await worker.start();
  // Subscribe before the clock starts (reserve provisions the stream and the consumer).
  await backend.reserve(queue, 1_000, { timeoutMs: 1 });
  return {
    backend,
    queue,
    streamPrefix: subjectPrefix.toUpperCase(),
    async close() {
      await worker.stop();
      await backend.close();
    },
  };
}

async function e2e(run: number): Promise<number> {
  let done = 0;
  const s = await stack(`e${run}`, () => void done++);
  const jobs = Array.from({ length: N }, () => createJob({ name: 'noop', queue: s.queue, payload: PAYLOAD }));
  const t0 = performance.now();
  for (let i = 0; i < N; i += BATCH) await s.backend.enqueueBatch(jobs.slice(i, i + BATCH));
  await until(() => done >= N, 300_000, 'e2e jobs');
  const rate = N / ((performance.now() - t0) / 1000);
  await s.close();
  await deleteStreams(s.streamPrefix);
  return rate;
}

/** Raw JetStream (bench/workloads/nats-raw.ts), connected by default or as the adapter connects. */
function raw(run: number, noAsyncTraces = false): Promise<number> {
  return rawJetStream(tag, String(run), N, noAsyncTraces);
}

async function delay(run: number): Promise<{ p99Late: number; early: number }> {
  const late: number[] = [];
  let early = 0;
  const s = await stack(`d${run}`, (job) => {
    const d = Date.now() - job.runAt.getTime();
    if (d < 0) early++;
    late.push(d);
  });
  const runAt = new Date(Date.now() + 2_000);
  const jobs = Array.from({ length: 1_000 }, () => createJob({ name: 'noop', queue: s.queue, payload: PAYLOAD, runAt }));
  for (let i = 0; i < jobs.length; i += BATCH) await s.backend.enqueueBatch(jobs.slice(i, i + BATCH));
  await until(() => late.length >= jobs.length, 60_000, 'delayed jobs');
  await s.close();
  await deleteStreams(s.streamPrefix);
  if (process.env.BENCH_VERBOSE) say(`delay lateness p0 ${percentile(late, 1)} p50 ${percentile(late, 50)} p90 ${percentile(late, 90)} p99 ${percentile(late, 99)} max ${Math.max(...late)}`);
  return { p99Late: percentile(late, 99), early };
}

async function latency(run: number): Promise<{ p50: number; p99: number }> {
  const sent = new Map<string, number>();
  const lat: number[] = [];
  const s = await stack(`l${run}`, (job) => lat.push(performance.now() - sent.get(job.id)!));
  for (let i = 0; i < 300; i++) {
    const job = createJob({ name: 'noop', queue: s.queue, payload: PAYLOAD });
    sent.set(job.id, performance.now());
    await s.backend.enqueue(job);
    await new Promise((r) => setTimeout(r, 5));
  }
  await until(() => lat.length >= 300, 30_000, 'latency jobs');
  await s.close();
  await deleteStreams(s.streamPrefix);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

/** Every figure, one entry per repetition. */
type Rows = Record<
  'e2e_jobs_per_s' | 'raw_msgs_per_s' | 'raw_notrace_msgs_per_s' | 'ratio_per_run' | 'delay_p99_late_ms' | 'delay_early' | 'latency_p50_ms' | 'latency_p99_ms',
  number[]
>;

/** Repetition `r` of the scenarios in `only`, appended to `rows`. */
async function repetition(r: number, rows: Rows, only: Set<string>): Promise<void> {
  if (only.has('raw')) rows.raw_msgs_per_s.push(await raw(r));
  if (only.has('e2e')) rows.e2e_jobs_per_s.push(await e2e(r));
  // The adapter turns the client's async stack traces off; the same for the raw client, for reference.
  if (only.has('raw')) rows.raw_notrace_msgs_per_s.push(await raw(r, true));
  if (only.has('raw') && only.has('e2e')) rows.ratio_per_run.push(rows.e2e_jobs_per_s[r]! / rows.raw_msgs_per_s[r]!);
  if (only.has('delay')) {
    const d = await delay(r);
    rows.delay_p99_late_ms.push(d.p99Late);
    rows.delay_early.push(d.early);
  }
  if (only.has('latency')) {
    const l = await latency(r);
    rows.latency_p50_ms.push(l.p50);
    rows.latency_p99_ms.push(l.p99);
  }
  say(`run ${r + 1}/${REPS} done`);
}

/** The medians as the table and the RESULT line. */
function report(rows: Rows): void {
  const result = {
    e2e_jobs_per_s: Math.round(median(rows.e2e_jobs_per_s)),
    raw_msgs_per_s: Math.round(median(rows.raw_msgs_per_s)),
    ratio: round(median(rows.e2e_jobs_per_s) / median(rows.raw_msgs_per_s), 3),
    raw_notrace_msgs_per_s: Math.round(median(rows.raw_notrace_msgs_per_s)),
    ratio_vs_notrace: round(median(rows.e2e_jobs_per_s) / median(rows.raw_notrace_msgs_per_s), 3),
    delay_p99_late_ms: round(median(rows.delay_p99_late_ms)),
    delay_early: Math.max(...rows.delay_early),
    latency_p50_ms: round(median(rows.latency_p50_ms), 2),
    latency_p99_ms: round(median(rows.latency_p99_ms), 2),
  };
  const header = ['metric', ...Array.from({ length: REPS }, (_, i) => `run ${i + 1}`), 'median'];
  const table = Object.entries(rows)
    .filter(([, v]) => v.length > 0)
    .map(([k, v]) => [k, ...[...v, k === 'delay_early' ? Math.max(...v) : median(v)].map((x) => round(x, 2))]);
  table.push(['ratio (of medians)', ...Array<string>(REPS).fill(''), result.ratio]);
  printTable(`NATS JetStream benchmark (${N} jobs, batches of ${BATCH}, ${REPS} runs, ${URL})`, header, table);
  printResult(result);
}

async function main(): Promise<void> {
  const rows: Rows = {
    e2e_jobs_per_s: [],
    raw_msgs_per_s: [],
    raw_notrace_msgs_per_s: [],
    ratio_per_run: [],
    delay_p99_late_ms: [],
    delay_early: [],
    latency_p50_ms: [],
    latency_p99_ms: [],
  };
  const only = new Set((process.env.BENCH_ONLY ?? 'raw,e2e,delay,latency').split(','));
  say(`NATS at ${URL}; ${N} jobs, ${REPS} repetitions of ${[...only].join(', ')}`);
  for (let r = 0; r < REPS; r++) await repetition(r, rows, only);
  report(rows);
}

runMain(main);
