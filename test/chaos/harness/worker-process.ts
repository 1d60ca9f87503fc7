/**
 * A jobbus worker as its own OS process, so a chaos scenario can crash it for real (SIGKILL),
 * stop it (SIGTERM) and measure it.
 *
 * Built only from the public API, as a user would build it: a bus (jobbus/kafka or jobbus/nats),
 * the bridge, the runtime backend, a worker. Every handler execution is written to the ledger in
 * PostgreSQL, outside the system under test, before the handler does its work:
 *
 *   started_at (row inserted) -> handler works -> finished_at, returned -> acked_at (onCompleted)
 *                                                                       -> outcome 'retry' | 'dead' (hooks)
 *
 * so after a crash the ledger tells which executions were cut short. What the handler does is
 * in the job's payload ({@link ChaosPayload}). Run with
 * `node --import tsx test/chaos/harness/worker-process.ts`; configuration in JOBBUS_WORKER_CONFIG
 * (see worker-config.ts). Prints READY_LINE once consuming; SIGTERM stops it gracefully.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pg from 'pg';
import pino from 'pino';
import { PermanentError, type EventBus, type Job } from '../../../src/index.js';
import { createEventBusBridge, createRuntimeBackend, createWorker } from '../../../src/advanced.js';
import { chaosPayloadOf, checkTableName, CONFIG_ENV, READY_LINE, type WorkerProcessConfig } from './worker-config.js';

const raw = process.env[CONFIG_ENV];
if (!raw) throw new Error(`${CONFIG_ENV} is not set`);
const cfg = JSON.parse(raw) as WorkerProcessConfig;
const table = checkTableName(cfg.ledgerTable);
const logger = pino({ level: process.env.JOBBUS_LOG_LEVEL ?? 'warn' }, pino.destination(2));

async function makeBus(): Promise<EventBus> {
  const b = cfg.bus;
  // Each adapter is loaded only when used, as an application importing one subpath would.
  if (b.kind === 'kafka') {
    const { createKafkaEventBus } = await import('../../../src/eventbus/kafka/index.js');
    const { testDriver } = await import('../../kafka/driver.js');
    return createKafkaEventBus({
      driver: testDriver(),
      brokers: b.brokers,
      clientId: `jobbus-chaos-${process.pid}`,
      ...(b.sessionTimeoutMs !== undefined && { consumer: { sessionTimeoutMs: b.sessionTimeoutMs } }),
      ...(b.partitions !== undefined && { topics: { partitions: b.partitions } }),
      ...(b.connectionTimeoutMs !== undefined && { connectionTimeoutMs: b.connectionTimeoutMs }),
      ...(b.requestTimeoutMs !== undefined && { requestTimeoutMs: b.requestTimeoutMs }),
      logger,
    });
  }
  const { createNatsEventBus } = await import('../../../src/eventbus/nats/index.js');
  return createNatsEventBus({
    servers: b.servers,
    subjectPrefix: b.subjectPrefix,
    streamPrefix: b.streamPrefix,
    ...(b.relayAckWaitMs !== undefined && { relayAckWaitMs: b.relayAckWaitMs }),
    logger,
  });
}

const pool = new pg.Pool({ connectionString: cfg.pgUrl, max: Math.min(cfg.concurrency, 16) + 4 });
const bus = await makeBus();
const runtime = createEventBusBridge(bus, { logger });
const backend = createRuntimeBackend(runtime, cfg.ackTimeoutMs !== undefined ? { ackTimeoutMs: cfg.ackTimeoutMs } : {});

// Ledger row of the execution running now, per job id (the same job never runs twice at once
// in one process while it is leased; a stuck attempt outliving its lease is the exception, and
// then the newer row wins).
const rowOf = new Map<string, number>();
const setOutcome = async (job: Job, column: 'acked_at' | 'outcome', value: number | string): Promise<void> => {
  const row = rowOf.get(job.id);
  rowOf.delete(job.id);
  if (row !== undefined) await pool.query(`update ${table} set ${column} = $1 where id = $2`, [value, row]);
};
const recordError = async (err: unknown, job?: Job): Promise<void> => {
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'unknown';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  await pool
    .query(`insert into ${table}_errors (pid, at, job_id, code, message) values ($1, $2, $3, $4, $5)`, [process.pid, Date.now(), job?.id ?? null, code, message.slice(0, 500)])
    .catch(() => undefined);
};
const worker = createWorker(
  backend,
  { ...cfg.worker, queues: [cfg.queue], concurrency: cfg.concurrency },
  {
    logger,
    hooks: {
      onCompleted: (job) => setOutcome(job, 'acked_at', Date.now()),
      onRetry: (job) => setOutcome(job, 'outcome', 'retry'),
      onDead: (job) => setOutcome(job, 'outcome', 'dead'),
      // A settle the backend refused (LEASE_EXPIRED: a stale attempt) or a failed reserve.
      onError: (err, job) => recordError(err, job),
    },
  },
);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

worker.register(cfg.jobName, async (job) => {
  const p = chaosPayloadOf(job);
  // Executions of this job so far, in any process (only asked when the payload limits stuckness).
  const earlier =
    p.stuckExecutions === undefined
      ? 0
      : Number((await pool.query<{ n: string }>(`select count(*) as n from ${table} where job_id = $1`, [job.id])).rows[0]!.n);
  const stuckMs = p.stuckExecutions === undefined || earlier < p.stuckExecutions ? p.stuckMs : undefined;
  // Written before the work starts: a crash after this line shows as started, never finished.
  const res = await pool.query<{ id: string }>(
    `insert into ${table} (job_id, attempt, pid, started_at, run_at) values ($1, $2, $3, $4, $5) returning id`,
    [job.id, job.attempt, process.pid, Date.now(), job.runAt.getTime()],
  );
  const row = Number(res.rows[0]!.id);
  rowOf.set(job.id, row);
  let returned = false;
  try {
    // A stuck handler ignores its abort signal on purpose.
    await sleep(stuckMs ?? p.ms ?? cfg.handlerMs);
    if (p.permanent) throw new PermanentError(`chaos job ${p.i ?? '?'} fails for good`);
    if (p.failTimes !== undefined && job.attempt < p.failTimes) throw new Error(`chaos job ${p.i ?? '?'} fails attempt ${job.attempt}`);
    returned = true;
  } finally {
    await pool.query(`update ${table} set finished_at = $1, returned = $2 where id = $3`, [Date.now(), returned, row]);
  }
});

function startSampling(everyMs: number): () => void {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const timer = setInterval(() => {
    const at = Date.now();
    const { rss } = process.memoryUsage();
    const max = h.max / 1e6;
    const p99 = h.percentile(99) / 1e6;
    h.reset();
    pool.query(`insert into ${table}_samples (pid, at, rss, lag_max, lag_p99) values ($1, $2, $3, $4, $5)`, [process.pid, at, rss, max, p99]).catch(() => undefined);
  }, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    h.disable();
  };
}

await worker.start();
if (cfg.primeSubscription) {
  // Subscribing happens on the first reserve; do it now so "ready" means "consuming".
  const lease = await backend.reserve(cfg.queue, 1_000, { timeoutMs: 1 });
  if (lease) throw new Error(`primeSubscription leased job ${lease.job.id}: prime only before jobs are enqueued`);
}
const stopSampling = cfg.sampleIntervalMs !== undefined ? startSampling(cfg.sampleIntervalMs) : () => undefined;
process.stdout.write(`${READY_LINE} ${process.pid}\n`);

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    stopSampling();
    await worker.stop().catch((err: unknown) => logger.error({ err }, 'worker stop failed'));
    await backend.close().catch((err: unknown) => logger.error({ err }, 'backend close failed'));
    await pool.end().catch(() => undefined);
    process.exit(0);
  })();
});
