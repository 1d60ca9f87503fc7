/**
 * `npm run bench:kafka`: jobbus on Kafka against plain kafkajs, on the test setup's broker
 * (JOBBUS_KAFKA_BROKERS, else the one from `npm run brokers:up`, else a Kafka 4.2.1 started for
 * this run and stopped afterwards). Every figure is the median of 3 repetitions; each repetition
 * uses fresh topics, deleted at the end. Prints a table, then as the last line
 * `RESULT {json}`.
 *
 * - e2e_jobs_per_s: 50 000 no-op jobs, enqueued in batches of 500, run by a worker with
 *   concurrency 64 on an 8-partition queue; clock from the first enqueue to the last ack.
 * - raw_msgs_per_s: the same encoded messages produced (batches of 500, acks = all) and consumed
 *   with plain kafkajs after one warm-up message; clock from the first send to the last message
 *   consumed (bench/workloads/kafka-raw.ts, shared with `npm run bench`). ratio = e2e / raw.
 *   Jobs carry the 100-byte payload of bench/workloads/shared.ts.
 * - e2e_no_async_context_jobs_per_s (extra, for attribution): e2e with the worker option
 *   `asyncContext: false` (no AsyncLocalStorage, whose promise hooks cost every promise on Node 20).
 * - bus_msgs_per_s (extra, for attribution): the same encoded messages through the Kafka bus
 *   alone (publishBatch + a no-op subscription, maxInFlight 64), clocked like raw.
 * - key_parallel_factor: a 1-partition queue, 200 distinct keys, 10 ms handlers, 64 in flight:
 *   jobs/s divided by 100 (the one-at-a-time rate).
 * - delay_p99_late_ms / delay_early: 1 000 jobs with runAt 2 s ahead (default delay tiers).
 * - latency_p50_ms / latency_p99_ms: enqueue-to-handler-start at low load (one job per 10 ms).
 *
 * Env: BENCH_JOBS (default 50000), BENCH_REPS (default 3), BENCH_ONLY=e2e|latency (only that
 * scenario, for profiling with `node --cpu-prof --import tsx bench/kafka.ts`).
 * Shape shared with the other benchmarks: bench/lib.ts.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { createJob, type Job } from '../src/index.js';
import { createEventBusBridge, createRuntimeBackend, createWorker } from '../src/advanced.js';
import { createKafkaEventBus, type KafkaEventBus } from '../src/eventbus/kafka/index.js';
import { encodeJob } from '../src/headers/index.js';
import { BROKERS_DIR, ensureKafka, readUpState } from '../test/setup/brokers.js';
import { benchReps, envNumber, median, percentile, printResult, printTable, progress, runMain, until } from './lib.js';
import { kafkaTopics, rawKafkajs, type KafkaTopics } from './workloads/kafka-raw.js';
import { BATCH, makeJobs } from './workloads/shared.js';

const JOBS = envNumber('BENCH_JOBS', 50_000);
const REPS = benchReps();
const silent = pino({ level: 'silent' });
const say = progress('bench:kafka');

let brokers: string[] = [];
/** Topic names and cleanup (set by main). */
let topics: KafkaTopics;
const topicName = (what: string): string => topics.name(what);

async function newBus(partitions: number): Promise<KafkaEventBus> {
  return createKafkaEventBus({ brokers, clientId: 'jobbus-bench', driver: 'kafkajs', topics: { partitions, replicationFactor: 1 } });
}

/** A worker stack on `bus` for `queue`; `handler` runs each job. */
async function startWorker(
  bus: KafkaEventBus,
  queue: string,
  concurrency: number,
  handler: (job: Job) => Promise<void>,
  onCompleted?: (job: Job) => void,
  asyncContext = true,
) {
  const runtime = createEventBusBridge(bus, { logger: silent, ownsBus: false });
  const backend = createRuntimeBackend(runtime, { maxInFlight: concurrency });
  const worker = createWorker(
    backend,
    { queues: [queue], concurrency },
    { logger: silent, asyncContext, ...(onCompleted ? { hooks: { onCompleted: (job) => onCompleted(job) } } : {}) },
  );
  worker.register('noop', handler);
  await worker.start();
  return {
    backend,
    async stop() {
      await worker.stop();
      await backend.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------

async function e2e(asyncContext = true): Promise<number> {
  const queue = topicName('e2e');
  const bus = await newBus(8);
  await bus.publish(queue, { value: new Uint8Array(0), headers: {} }).catch(() => undefined); // create the topic
  let acked = 0;
  let last = 0;
  const w = await startWorker(
    bus,
    queue,
    64,
    async () => undefined,
    () => {
      if (++acked === JOBS) last = Date.now();
    },
    asyncContext,
  );
  const jobs = makeJobs(queue, JOBS);
  const t0 = Date.now();
  for (let i = 0; i < jobs.length; i += BATCH) await w.backend.enqueueBatch(jobs.slice(i, i + BATCH));
  await until(() => acked >= JOBS, 300_000, 'all e2e jobs');
  const rate = JOBS / ((last - t0) / 1000);
  await w.stop();
  await bus.close();
  return rate;
}

/** The same messages through the bus alone (publishBatch + subscribe, no job layers), for attribution. */
async function busOnly(): Promise<number> {
  const topic = topicName('bus');
  const bus = await newBus(8);
  const messages = makeJobs(topic, JOBS).map(encodeJob);
  await bus.publish(topic, { value: new Uint8Array(0), headers: { warm: '1' } });
  let got = 0;
  let last = 0;
  await bus.subscribe(
    topic,
    async (d) => {
      if (d.message.headers.warm) return;
      if (++got === JOBS) last = Date.now();
    },
    { group: 'bench', maxInFlight: 64 },
  );
  const t0 = Date.now();
  for (let i = 0; i < messages.length; i += BATCH) await bus.publishBatch(topic, messages.slice(i, i + BATCH));
  await until(() => got >= JOBS, 300_000, 'all bus messages');
  await bus.close();
  return JOBS / ((last - t0) / 1000);
}

async function keyParallel(): Promise<number> {
  const queue = topicName('keys');
  const n = 3_000;
  const bus = await newBus(1);
  const jobs = makeJobs(queue, n, (i) => ({ partitionKey: `key-${i % 200}` }));
  for (let i = 0; i < jobs.length; i += BATCH) await bus.publishBatch(queue, jobs.slice(i, i + BATCH).map(encodeJob));
  let done = 0;
  let first = 0;
  let last = 0;
  const w = await startWorker(
    bus,
    queue,
    64,
    async () => {
      if (first === 0) first = Date.now();
      await new Promise((r) => setTimeout(r, 10));
    },
    () => {
      if (++done === n) last = Date.now();
    },
  );
  await until(() => done >= n, 300_000, 'all keyed jobs');
  const rate = n / ((last - first) / 1000);
  await w.stop();
  await bus.close();
  return rate / 100;
}

async function delays(): Promise<{ p99: number; early: number }> {
  const queue = topicName('delay');
  const n = 1_000;
  const bus = await createKafkaEventBus({ brokers, clientId: 'jobbus-bench', driver: 'kafkajs', topics: { partitions: 8, replicationFactor: 1 } });
  const late: number[] = [];
  let early = 0;
  const w = await startWorker(bus, queue, 64, async (job) => {
    const d = Date.now() - job.runAt.getTime();
    if (d < 0) early++;
    late.push(d);
  });
  const runAt = new Date(Date.now() + 2_000);
  const jobs = makeJobs(queue, n, () => ({ runAt }));
  await w.backend.enqueueBatch(jobs);
  await until(() => late.length >= n, 60_000, 'all delayed jobs');
  await w.stop();
  await bus.close();
  return { p99: percentile(late, 99), early };
}

async function latency(): Promise<{ p50: number; p99: number; max: number }> {
  const queue = topicName('lat');
  const n = 200;
  const bus = await newBus(8);
  const enqueuedAt = new Map<string, number>();
  const lat: number[] = [];
  const w = await startWorker(bus, queue, 64, async (job) => {
    const t = enqueuedAt.get(job.id);
    if (t !== undefined) lat.push(Date.now() - t);
  });
  await w.backend.enqueue(createJob({ name: 'noop', queue, payload: 'warm-up' }));
  for (const job of makeJobs(queue, n)) {
    enqueuedAt.set(job.id, Date.now());
    await w.backend.enqueue(job);
    await new Promise((r) => setTimeout(r, 10));
  }
  await until(() => lat.length >= n, 60_000, 'all latency jobs');
  await w.stop();
  await bus.close();
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), max: Math.max(...lat) };
}

// ---------------------------------------------------------------------------------------------

/** Every figure, one entry per repetition. */
type Runs = Record<'e2e' | 'e2eNoCtx' | 'raw' | 'bus' | 'keys' | 'p99late' | 'early' | 'p50' | 'p99', number[]>;

/** One repetition of every scenario, appended to `runs`. */
async function repetition(rep: number, runs: Runs): Promise<void> {
  // Alternate the order so neither side always runs on a warmer JIT / page cache.
  if (rep % 2) {
    runs.e2e.push(await e2e());
    runs.raw.push(await rawKafkajs(topics, JOBS));
  } else {
    runs.raw.push(await rawKafkajs(topics, JOBS));
    runs.e2e.push(await e2e());
  }
  runs.e2eNoCtx.push(await e2e(false));
  runs.bus.push(await busOnly());
  runs.keys.push(await keyParallel());
  const d = await delays();
  runs.p99late.push(d.p99);
  runs.early.push(d.early);
  const l = await latency();
  runs.p50.push(l.p50);
  runs.p99.push(l.p99);
  say(
    `rep ${rep}: e2e ${Math.round(runs.e2e.at(-1)!)}/s raw ${Math.round(runs.raw.at(-1)!)}/s bus ${Math.round(runs.bus.at(-1)!)}/s keys x${runs.keys.at(-1)!.toFixed(1)} ` +
      `delay p99 ${d.p99} ms early ${d.early} latency p50 ${l.p50} ms p99 ${l.p99} ms`,
  );
}

/** BENCH_ONLY=e2e|latency: that scenario alone, REPS times (for profiling); true when it ran. */
async function only(): Promise<boolean> {
  if (process.env.BENCH_ONLY === 'e2e') {
    for (let rep = 1; rep <= REPS; rep++) say(`e2e only, rep ${rep}: ${Math.round(await e2e())} jobs/s`);
    return true;
  }
  if (process.env.BENCH_ONLY === 'latency') {
    for (let rep = 1; rep <= REPS; rep++) {
      const l = await latency();
      say(`latency only, rep ${rep}: p50 ${l.p50} ms p99 ${l.p99} ms max ${l.max} ms`);
    }
    return true;
  }
  return false;
}

/** The medians as the table and the RESULT line. */
function report(runs: Runs): void {
  const e2eRate = median(runs.e2e);
  const rawRate = median(runs.raw);
  const result = {
    e2e_jobs_per_s: Math.round(e2eRate),
    raw_msgs_per_s: Math.round(rawRate),
    ratio: Number((e2eRate / rawRate).toFixed(3)),
    e2e_no_async_context_jobs_per_s: Math.round(median(runs.e2eNoCtx)),
    bus_msgs_per_s: Math.round(median(runs.bus)),
    key_parallel_factor: Number(median(runs.keys).toFixed(1)),
    delay_p99_late_ms: median(runs.p99late),
    delay_early: Math.max(...runs.early),
    latency_p50_ms: median(runs.p50),
    latency_p99_ms: median(runs.p99),
  };
  const all = (xs: number[], f: (x: number) => string = (x) => String(Math.round(x))): string => xs.map(f).join(' / ');
  printTable(`jobbus on Kafka — ${os.cpus().length} cores, Node ${process.version}, Kafka at ${brokers.join(',')}; median of ${REPS}`, ['metric', 'median', 'runs'], [
    [`e2e jobs/s (${JOBS}, conc 64, 8 partitions)`, result.e2e_jobs_per_s, all(runs.e2e)],
    ['raw kafkajs msgs/s (same messages)', result.raw_msgs_per_s, all(runs.raw)],
    ['ratio e2e / raw (target >= 0.6)', result.ratio, ''],
    ['e2e jobs/s with asyncContext: false', result.e2e_no_async_context_jobs_per_s, all(runs.e2eNoCtx)],
    ['bus only msgs/s (same messages, no job layers)', result.bus_msgs_per_s, all(runs.bus)],
    ['key parallel factor (target >= 30)', result.key_parallel_factor, all(runs.keys, (x) => x.toFixed(1))],
    ['delay p99 late ms (target <= 500)', result.delay_p99_late_ms, all(runs.p99late)],
    ['delay early (target 0)', result.delay_early, all(runs.early)],
    ['latency p50 ms', result.latency_p50_ms, all(runs.p50)],
    ['latency p99 ms', result.latency_p99_ms, all(runs.p99)],
  ]);
  printResult(result);
}

async function main(): Promise<void> {
  const kafkaService = await ensureKafka({ runDir: path.join(BROKERS_DIR, 'bench'), reuse: readUpState(), log: say });
  brokers = kafkaService.address.split(',');
  say(`Kafka at ${kafkaService.address} (${kafkaService.origin}); ${JOBS} jobs, ${REPS} repetitions`);
  topics = await kafkaTopics(brokers);
  const runs: Runs = { e2e: [], e2eNoCtx: [], raw: [], bus: [], keys: [], p99late: [], early: [], p50: [], p99: [] };
  try {
    if (await only()) return;
    for (let rep = 1; rep <= REPS; rep++) await repetition(rep, runs);
  } finally {
    await topics.cleanup();
    await kafkaService.stop();
  }
  report(runs);
}

runMain(main);
