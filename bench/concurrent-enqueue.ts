/**
 * `npm run bench:enqueue`: enqueue throughput from many concurrent callers, one job per call, as
 * a web service enqueues one job per request. `BENCH_JOBS` jobs (default 20 000) from
 * `BENCH_CALLERS` callers (default 64), each awaiting its previous `enqueue` before the next,
 * after `WARM` jobs enqueued the same way off the clock (JIT, connections); no worker runs.
 * Legs, alternating per repetition (median of `BENCH_REPS`, default 3): jobbus on Kafka with
 * each installed driver (8 partitions), jobbus on NATS, BullMQ `queue.add` on the
 * machine's Redis. The Kafka bus's idempotent producer sends one request at a time, and the calls
 * made meanwhile go out merged as the next one (src/eventbus/kafka/idempotent-producer.ts).
 * Prints every run, the medians, and last `RESULT {json}`.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { createJobbus, type EventBus } from '../src/index.js';
import { createKafkaEventBus } from '../src/eventbus/kafka/index.js';
import { createNatsEventBus } from '../src/eventbus/nats/index.js';
import { BROKERS_DIR, ensureKafka, readUpState } from '../test/setup/brokers.js';
import { benchReps, envNumber, median, printResult, printTable, progress, runMain } from './lib.js';
import { bullmqConcurrentAdd, cleanupBullmq } from './workloads/bullmq.js';
import { kafkaTopics, platformaticAvailable } from './workloads/kafka-raw.js';
import { deleteStreams, NATS_URL } from './workloads/nats-raw.js';
import { concurrently, JOB_NAME, PAYLOAD, ratePerSecond } from './workloads/shared.js';

const JOBS = envNumber('BENCH_JOBS', 20_000);
/** Jobs enqueued before the clock starts. */
const WARM = 1_000;
const CALLERS = envNumber('BENCH_CALLERS', 64);
const REPS = benchReps();
const say = progress('bench:enqueue');
const silent = pino({ level: 'silent' });
const tag = `benq_${Date.now().toString(36)}`;

/** jobbus enqueue-only throughput on `bus` (closed afterwards); jobs/s. */
async function jobbusEnqueue(bus: EventBus, queue: string): Promise<number> {
  const jobs = createJobbus({ bus, group: `${queue}-g`, logger: silent });
  try {
    await concurrently(WARM, CALLERS, () => jobs.enqueue({ name: JOB_NAME, queue, payload: PAYLOAD }));
    const t0 = performance.now();
    await concurrently(JOBS, CALLERS, () => jobs.enqueue({ name: JOB_NAME, queue, payload: PAYLOAD }));
    return ratePerSecond(JOBS, t0, performance.now());
  } finally {
    await jobs.close();
  }
}

async function main(): Promise<void> {
  const runs: Record<string, number[]> = {};
  const record = (leg: string, x: number): void => {
    (runs[leg] ??= []).push(x);
    say(`${leg}: ${Math.round(x)}/s (load ${os.loadavg()[0]!.toFixed(2)})`);
  };
  say(`${JOBS} jobs from ${CALLERS} callers, ${REPS} repetitions`);
  const kafka = await ensureKafka({ runDir: path.join(BROKERS_DIR, 'bench'), reuse: readUpState(), log: say });
  const topics = await kafkaTopics(kafka.address.split(','));
  const drivers = (await platformaticAvailable()) ? (['platformatic', 'kafkajs'] as const) : (['kafkajs'] as const);
  try {
    for (let rep = 1; rep <= REPS; rep++) {
      for (const driver of drivers) {
        const bus = await createKafkaEventBus({ brokers: [...topics.brokers], clientId: 'jobbus-bench', driver, topics: { partitions: 8, replicationFactor: 1 } });
        record(`kafka-jobbus-${driver}`, await jobbusEnqueue(bus, topics.name(`enq-${driver}`)));
      }
      const prefix = `${tag}_${rep}`;
      try {
        record('nats-jobbus', await jobbusEnqueue(await createNatsEventBus({ servers: NATS_URL, subjectPrefix: prefix, logger: silent }), 'jobs'));
      } finally {
        await deleteStreams(prefix.toUpperCase());
      }
      record('bullmq', await bullmqConcurrentAdd(`${tag}-${rep}`, JOBS, CALLERS, WARM));
    }
  } finally {
    await topics.cleanup().catch((err: unknown) => say(`topic cleanup failed: ${String(err)}`));
    await kafka.stop();
    await cleanupBullmq();
  }
  const medians = Object.fromEntries(Object.entries(runs).map(([leg, xs]) => [leg, Math.round(median(xs))]));
  printTable(
    `Enqueue only, /s (${JOBS} jobs, one per call, ${CALLERS} concurrent callers; ${os.cpus().length} cores, Node ${process.version})`,
    ['leg', ...Array.from({ length: REPS }, (_, i) => `run ${i + 1}`), 'median', 'vs BullMQ'],
    Object.entries(runs).map(([leg, xs]) => [leg, ...xs.map(Math.round), medians[leg]!, (medians[leg]! / medians.bullmq!).toFixed(2)]),
  );
  printResult({ jobs: JOBS, callers: CALLERS, reps: REPS, medians, runs, node: process.version, cores: os.cpus().length });
}

runMain(main);
