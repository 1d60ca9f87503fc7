/**
 * S6 benchmark (issue 13): waiting delayed jobs never stall due jobs. `npm run bench:backlog`.
 *
 * Per bus (memory, kafka, nats; `npm run bench:backlog -- kafka nats` or BENCH_BUS=kafka,nats picks):
 * 1. enqueue BACKLOG_JOBS (default 1,000,000) jobs delayed by an hour into one queue, with
 *    enqueueBatch in batches of 1,000 (1-byte payload);
 * 2. start a worker (a separate process for Kafka and NATS, so its RSS is its own; in-process for
 *    the memory bus, whose RSS then includes the bus holding every message);
 * 3. enqueue BENCH_RATE * BENCH_SECONDS immediate jobs (default 200/s for 10 s) on the same
 *    queue, one at a time and paced (sent_per_s is the rate achieved), each carrying its enqueue
 *    time;
 * 4. print, per bus (first without any backlog, the baseline; BENCH_BASELINE=0 skips it): p50/p99/max enqueue-to-handler latency of the immediate jobs, how many ran
 *    (within BENCH_GRACE_MS, default 30 000, of the last enqueue), the worker's max RSS (sampled
 *    every 100 ms from its start), and delayed jobs that ran (must be 0).
 * BENCH_KAFKA_RELAY_BYTES sets the Kafka relays' `relay.maxBytesPerPartition` (default 1 MiB).
 * Brokers from JOBBUS_KAFKA_BROKERS (default 127.0.0.1:39092) and JOBBUS_NATS_URL (default
 * nats://127.0.0.1:4222). Topics and streams made here are deleted at the end. Prints a table
 * (one column per run), then as the last line `RESULT {json}` (bench/lib.ts: the shape shared
 * with the other benchmarks). One run per bus and phase: BENCH_REPS does not apply (a backlog
 * of a million jobs takes minutes to build).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import pino from 'pino';
import { createJob, type EventBus } from '../src/index.js';
import { createEventBusBridge, createRuntimeBackend, createWorker } from '../src/advanced.js';
import { createMemoryEventBus } from '../src/eventbus/memory/index.js';
import { createKafkaEventBus } from '../src/eventbus/kafka/index.js';
import { createNatsEventBus } from '../src/eventbus/nats/index.js';
import { envNumber, percentile, printResult, printTable, progress, runMain } from './lib.js';

type BusKind = 'memory' | 'kafka' | 'nats';
interface BusSpec {
  readonly kind: BusKind;
  readonly prefix: string;
}
interface WorkerResult {
  readonly ran: number;
  readonly latencies: number[];
  readonly delayedRan: number;
  readonly rssMaxMb: number;
  readonly rssEndMb: number;
}

const KAFKA = (process.env.JOBBUS_KAFKA_BROKERS ?? '127.0.0.1:39092').split(',');
const NATS = process.env.JOBBUS_NATS_URL ?? 'nats://127.0.0.1:4222';
const BACKLOG = envNumber('BACKLOG_JOBS', 1_000_000);
const RATE = envNumber('BENCH_RATE', 200);
const SECONDS = envNumber('BENCH_SECONDS', 10);
const GRACE_MS = envNumber('BENCH_GRACE_MS', 30_000);
const BASELINE = process.env.BENCH_BASELINE !== '0';
/** Kafka `relay.maxBytesPerPartition` of the buses made here; unset = the bus default (1 MiB). */
const RELAY_BYTES = envNumber('BENCH_KAFKA_RELAY_BYTES', 0);
const BATCH = 1_000;
const QUEUE = 'backlog';
const silent = pino({ level: process.env.JOBBUS_LOG_LEVEL ?? 'silent' });
const mb = (bytes: number): number => Math.round(bytes / 1_048_576);

async function makeBus(spec: BusSpec, clientId: string): Promise<EventBus> {
  if (spec.kind === 'memory') return createMemoryEventBus();
  if (spec.kind === 'kafka') {
    return createKafkaEventBus({
      brokers: KAFKA,
      clientId,
      logger: silent,
      // A paused relay still holds the head fetch it read: up to this many bytes per partition.
      ...(RELAY_BYTES && { relay: { maxBytesPerPartition: RELAY_BYTES } }),
    });
  }
  return createNatsEventBus({ servers: NATS, subjectPrefix: spec.prefix, streamPrefix: spec.prefix.toUpperCase(), logger: silent });
}

/** Kafka topic names may not hold what NATS subjects may not: one name fits both. */
const queueOf = (spec: BusSpec): string => (spec.kind === 'kafka' ? `${spec.prefix}-${QUEUE}` : QUEUE);

/** The worker side: runs immediate jobs, records their latency and its own RSS. */
async function startWorkerSide(bus: EventBus, queue: string) {
  let rssMax = process.memoryUsage().rss;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 100);
  const latencies: number[] = [];
  let delayedRan = 0;
  const backend = createRuntimeBackend(createEventBusBridge(bus, { logger: silent }), { group: 'bench' });
  const worker = createWorker(backend, { queues: [queue], concurrency: 16 }, { logger: silent, asyncContext: false });
  worker.register('now', (job) => {
    const { t } = JSON.parse(new TextDecoder().decode(job.payload)) as { t: number };
    latencies.push(Date.now() - t);
  });
  worker.register('later', () => void delayedRan++);
  await worker.start();
  // Subscribe now (the first reserve does): nothing is due yet, so nothing is leased.
  const lease = await backend.reserve(queue, 1_000, { timeoutMs: 1 });
  if (lease) throw new Error(`bench: job ${lease.job.id} was due before the immediate phase`);
  return {
    ran: () => latencies.length,
    async stop(): Promise<WorkerResult> {
      await worker.stop();
      await backend.close();
      clearInterval(sampler);
      const rss = process.memoryUsage().rss;
      return { ran: latencies.length, latencies, delayedRan, rssMaxMb: mb(Math.max(rssMax, rss)), rssEndMb: mb(rss) };
    },
  };
}

/** `--worker` mode: the child process. Protocol on stdout: READY, RAN <n> (every 200 ms), RESULT <json>. */
async function workerMain(): Promise<void> {
  const spec = JSON.parse(process.env.BENCH_WORKER_SPEC ?? '') as BusSpec;
  const side = await startWorkerSide(await makeBus(spec, 'jobbus-backlog-worker'), queueOf(spec));
  process.stdout.write('READY\n');
  const progress = setInterval(() => process.stdout.write(`RAN ${side.ran()}\n`), 200);
  process.once('SIGTERM', () => {
    clearInterval(progress);
    void side.stop().then((r) => {
      process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
      process.exit(0);
    });
  });
}

/**
 * The worker child runs this file compiled to JavaScript, as a deployed worker would: under tsx
 * the same process holds ~40 MB more (the loader and the transformed sources), which would be
 * charged to the bus. BENCH_TSX_WORKER=1 skips the compile (~20 s) and runs it under tsx.
 */
function workerCommand(): string[] {
  const self = fileURLToPath(import.meta.url);
  if (process.env.BENCH_TSX_WORKER === '1') return ['--import', 'tsx', self, '--worker'];
  const root = fileURLToPath(new URL('../', import.meta.url));
  const out = join(root, 'node_modules', '.cache', 'jobbus-bench-backlog');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const flags = ['--outDir', out, '--rootDir', root, '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022'];
  try {
    execFileSync(process.execPath, [tsc, self, ...flags, '--strict', '--skipLibCheck', '--types', 'node'], { cwd: root, stdio: 'ignore' });
  } catch {
    // tsc exits non-zero on type errors and still emits; the check below is what matters.
  }
  const compiled = join(out, 'bench', 'delayed-backlog.js');
  if (!existsSync(compiled)) throw new Error(`bench: compiling the worker to ${compiled} failed`);
  return [compiled, '--worker'];
}

let workerArgs: string[] | undefined;

/** A worker in a child process, driven like the in-process one. */
async function startChildWorker(spec: BusSpec): Promise<{ ran: () => number; stop: () => Promise<WorkerResult> }> {
  workerArgs ??= workerCommand();
  const child = spawn(process.execPath, workerArgs, {
    env: { ...process.env, BENCH_WORKER_SPEC: JSON.stringify(spec) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let ran = 0;
  let buf = '';
  let onResult: ((r: WorkerResult) => void) | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench worker exited early (code ${code})`)));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'READY') resolve();
        else if (line.startsWith('RAN ')) ran = Number(line.slice(4));
        else if (line.startsWith('RESULT ')) onResult?.(JSON.parse(line.slice(7)) as WorkerResult);
      }
    });
  });
  await ready;
  return {
    ran: () => ran,
    stop: () =>
      new Promise<WorkerResult>((resolve) => {
        onResult = resolve;
        child.kill('SIGTERM');
      }),
  };
}

/**
 * NATS: where the waiting jobs are, per consumer of this run's streams (pending = not yet
 * delivered, ack_pending = delivered and waiting out a nak delay or a handler), so the table can
 * be read against max_ack_pending.
 */
async function natsConsumerState(spec: BusSpec): Promise<string[]> {
  const nc = await connect({ servers: NATS });
  try {
    const jsm = await jetstreamManager(nc);
    const out: string[] = [];
    for await (const stream of jsm.streams.names()) {
      if (!stream.startsWith(`${spec.prefix.toUpperCase()}_`)) continue;
      for await (const c of jsm.consumers.list(stream)) {
        out.push(`${stream}/${c.name}: pending ${c.num_pending}, ack_pending ${c.num_ack_pending} (max ${c.config.max_ack_pending}), redelivered ${c.num_redelivered}`);
      }
    }
    return out;
  } finally {
    await nc.close();
  }
}

async function cleanup(spec: BusSpec): Promise<void> {
  if (spec.kind === 'kafka') {
    const admin = new Kafka({ brokers: KAFKA, clientId: 'jobbus-backlog-admin', logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const q = queueOf(spec);
    const mine = (await admin.listTopics()).filter((t) => t === q || t.startsWith(`${q}.`));
    if (mine.length) await admin.deleteTopics({ topics: mine, timeout: 30_000 }).catch(() => undefined);
    await admin.disconnect();
  } else if (spec.kind === 'nats') {
    const nc = await connect({ servers: NATS });
    const jsm = await jetstreamManager(nc);
    // The queue and delay streams, and the bus's group registry (a KV bucket: stream KV_<prefix>_…).
    const mine = (n: string): boolean => n.startsWith(`${spec.prefix.toUpperCase()}_`) || n.startsWith(`KV_${spec.prefix.toUpperCase()}_`);
    for await (const n of jsm.streams.names()) if (mine(n)) await jsm.streams.delete(n).catch(() => undefined);
    await nc.close();
  }
}

interface Row {
  bus: BusKind;
  backlog: number;
  backlog_enqueue_s: number;
  backlog_per_s: number;
  worker_ready_ms: number;
  sent: number;
  sent_per_s: number;
  /** Enqueue call to the broker's ack, p50/p99: the producer's share of the latency. */
  enqueue_p50_ms: number;
  enqueue_p99_ms: number;
  ran: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  worker_rss_max_mb: number;
  worker_rss_end_mb: number;
  delayed_ran: number;
}

type Producer = ReturnType<typeof createEventBusBridge>;

/** Phase 1: `backlog` jobs delayed by an hour, in batches; the seconds it took. */
async function enqueueBacklog(producer: Producer, queue: string, backlog: number, log: (m: string) => void): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < backlog; i += BATCH) {
    const runAt = new Date(Date.now() + 3_600_000);
    const n = Math.min(BATCH, backlog - i);
    await producer.enqueueBatch(Array.from({ length: n }, () => createJob({ name: 'later', queue, payload: 'x', runAt })));
    if ((i + n) % 100_000 === 0) log(`${i + n} delayed jobs enqueued`);
  }
  return (performance.now() - t0) / 1000;
}

/** Phase 3: RATE immediate jobs a second for SECONDS, each carrying its enqueue time. */
async function sendImmediate(producer: Producer, queue: string): Promise<{ total: number; failed: number; acked: number[]; achievedRate: number }> {
  const total = Math.round(RATE * SECONDS);
  const start = Date.now();
  const acked: number[] = [];
  let failed = 0;
  // One enqueue at a time, paced: a producer slower than RATE lowers the achieved rate instead
  // of queueing sends in this process (kafkajs's idempotent producer sends one request at a
  // time; 120-190 single sends/s on this 2-core machine under load), which would be counted as latency.
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / RATE - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t = Date.now();
    try {
      await producer.enqueue(createJob({ name: 'now', queue, payload: { t } }));
      acked.push(Date.now() - t);
    } catch {
      failed++;
    }
  }
  return { total, failed, acked, achievedRate: Math.round((total / (Date.now() - start)) * 1000) };
}

/** One row: the backlog, a worker, the immediate jobs, and what the worker saw. */
async function runBus(kind: BusKind, backlog: number): Promise<Row> {
  const spec: BusSpec = { kind, prefix: `backlog_${Date.now().toString(36)}` };
  const queue = queueOf(spec);
  const log = progress(`bench:backlog ${kind}`);
  const bus = await makeBus(spec, 'jobbus-backlog-producer');
  // The memory bus is one process: the producer's bus is the worker's bus.
  const producer = createEventBusBridge(bus, { logger: silent, ownsBus: kind !== 'memory' });
  try {
    const enqueueS = await enqueueBacklog(producer, queue, backlog, log);
    log(`backlog of ${backlog} in ${enqueueS.toFixed(1)} s; starting the worker`);
    const w0 = performance.now();
    const worker = kind === 'memory' ? await startWorkerSide(bus, queue) : await startChildWorker(spec);
    const readyMs = Math.round(performance.now() - w0);
    const { total, failed, acked, achievedRate } = await sendImmediate(producer, queue);
    const deadline = Date.now() + GRACE_MS;
    while (worker.ran() < total - failed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (kind === 'nats') for (const line of await natsConsumerState(spec)) log(line);
    const r = await worker.stop();
    log(`${r.ran}/${total} immediate jobs ran (${failed} enqueues failed)`);
    return {
      bus: kind,
      backlog,
      backlog_enqueue_s: Math.round(enqueueS * 10) / 10,
      backlog_per_s: backlog ? Math.round(backlog / enqueueS) : 0,
      worker_ready_ms: readyMs,
      sent: total - failed,
      sent_per_s: achievedRate,
      enqueue_p50_ms: percentile(acked, 50),
      enqueue_p99_ms: percentile(acked, 99),
      ran: r.ran,
      p50_ms: percentile(r.latencies, 50),
      p99_ms: percentile(r.latencies, 99),
      max_ms: r.latencies.length ? Math.max(...r.latencies) : NaN,
      worker_rss_max_mb: r.rssMaxMb,
      worker_rss_end_mb: r.rssEndMb,
      delayed_ran: r.delayedRan,
    };
  } finally {
    await producer.close().catch(() => undefined);
    if (kind === 'memory') await bus.close().catch(() => undefined);
    await cleanup(spec).catch((err: unknown) => log(`cleanup failed: ${String(err)}`));
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const picked = args.length ? args : (process.env.BENCH_BUS ?? 'memory,kafka,nats').split(',');
  for (const kind of picked) {
    if (kind !== 'memory' && kind !== 'kafka' && kind !== 'nats') throw new Error(`unknown bus ${kind}: memory, kafka or nats`);
  }
  if (picked.some((k) => k !== 'memory')) workerArgs = workerCommand();
  const rows: Row[] = [];
  for (const kind of picked as BusKind[]) {
    // "Normal latency" is this row: the same phase on the same bus without the backlog.
    if (BASELINE) rows.push(await runBus(kind, 0));
    rows.push(await runBus(kind, BACKLOG));
  }
  report(rows);
}

/** One column per run (bus and backlog), one line per figure; then the RESULT line. */
function report(rows: Row[]): void {
  const title = `S6 delayed backlog: ${BACKLOG} jobs delayed 1 h, then ${RATE}/s immediate jobs for ${SECONDS} s (latency = enqueue call to handler start)`;
  const keys = Object.keys(rows[0] ?? {}).filter((k) => k !== 'bus') as (keyof Row)[];
  printTable(
    title,
    ['', ...rows.map((r) => `${r.bus}${r.backlog ? '' : ' (baseline)'}`)],
    keys.map((k) => [k, ...rows.map((r) => r[k])]),
  );
  if (rows.some((r) => r.bus === 'memory')) console.log('memory: the worker is the bus process, so its RSS includes every waiting message.');
  printResult(rows);
}

// The child keeps running until its parent stops it (SIGTERM): it must not exit when set up.
if (process.argv.includes('--worker')) runMain(workerMain, { exit: false });
else runMain(main);
