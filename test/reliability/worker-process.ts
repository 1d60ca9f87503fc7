/**
 * A jobbus worker as its own OS process, so a test can crash it for real (SIGKILL).
 *
 * Built only from the public API, as a user would build it: a bus (jobbus/kafka or jobbus/nats),
 * the bridge, the runtime backend, a worker. Every handler execution is written to a ledger
 * table in PostgreSQL, outside the system under test, before the handler does its work:
 *
 *   started_at (row inserted) -> handler works `handlerMs` -> finished_at -> acked_at (onCompleted)
 *
 * so after a crash the ledger tells which executions were cut short. Run with
 * `node --import tsx test/reliability/worker-process.ts`; configuration in JOBBUS_WORKER_CONFIG
 * (see worker-config.ts). Prints READY_LINE once consuming; SIGTERM stops it gracefully.
 */
import pg from 'pg';
import pino from 'pino';
import { createEventBusBridge, createRuntimeBackend, createWorker, type EventBus } from '../../src/index.js';
import { checkTableName, CONFIG_ENV, READY_LINE, type WorkerProcessConfig } from './worker-config.js';

const raw = process.env[CONFIG_ENV];
if (!raw) throw new Error(`${CONFIG_ENV} is not set`);
const cfg = JSON.parse(raw) as WorkerProcessConfig;
const table = checkTableName(cfg.ledgerTable);
const logger = pino({ level: process.env.JOBBUS_LOG_LEVEL ?? 'warn' });

async function makeBus(): Promise<EventBus> {
  const b = cfg.bus;
  // Each adapter is loaded only when used, as an application importing one subpath would.
  if (b.kind === 'kafka') {
    const { createKafkaEventBus } = await import('../../src/eventbus/kafka/index.js');
    return createKafkaEventBus({
      brokers: b.brokers,
      clientId: `jobbus-crash-${process.pid}`,
      ...(b.sessionTimeoutMs !== undefined && { consumer: { sessionTimeoutMs: b.sessionTimeoutMs } }),
      logger,
    });
  }
  const { createNatsEventBus } = await import('../../src/eventbus/nats/index.js');
  return createNatsEventBus({
    servers: b.servers,
    subjectPrefix: b.subjectPrefix,
    streamPrefix: b.streamPrefix,
    ...(b.relayAckWaitMs !== undefined && { relayAckWaitMs: b.relayAckWaitMs }),
    logger,
  });
}

const pool = new pg.Pool({ connectionString: cfg.pgUrl, max: cfg.concurrency + 4 });
const bus = await makeBus();
const runtime = createEventBusBridge(bus, { logger });
const backend = createRuntimeBackend(runtime, cfg.ackTimeoutMs !== undefined ? { ackTimeoutMs: cfg.ackTimeoutMs } : {});
// Ledger row of the execution running now, per job id (the same job never runs twice at once
// in one process: it is leased until settled).
const rowOf = new Map<string, number>();
const worker = createWorker(
  backend,
  { queues: [cfg.queue], concurrency: cfg.concurrency },
  {
    logger,
    hooks: {
      async onCompleted(job) {
        const row = rowOf.get(job.id);
        rowOf.delete(job.id);
        if (row !== undefined) await pool.query(`update ${table} set acked_at = $1 where id = $2`, [Date.now(), row]);
      },
    },
  },
);

worker.register(cfg.jobName, async (job) => {
  const startedAt = Date.now();
  // Written before the work starts: a crash after this line shows as started, never finished.
  const res = await pool.query<{ id: string }>(
    `insert into ${table} (job_id, attempt, pid, started_at, run_at) values ($1, $2, $3, $4, $5) returning id`,
    [job.id, job.attempt, process.pid, startedAt, job.runAt.getTime()],
  );
  const row = Number(res.rows[0]!.id);
  rowOf.set(job.id, row);
  await new Promise((r) => setTimeout(r, cfg.handlerMs));
  await pool.query(`update ${table} set finished_at = $1 where id = $2`, [Date.now(), row]);
});

await worker.start();
if (cfg.primeSubscription) {
  // Subscribing happens on the first reserve; do it now so "ready" means "consuming".
  const lease = await backend.reserve(cfg.queue, 1_000, { timeoutMs: 1 });
  if (lease) throw new Error(`primeSubscription leased job ${lease.job.id}: prime only before jobs are enqueued`);
}
process.stdout.write(`${READY_LINE} ${process.pid}\n`);

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await worker.stop().catch(() => undefined);
    await backend.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    process.exit(0);
  })();
});
