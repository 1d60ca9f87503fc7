/**
 * `npm run bench`: jobbus against its raw driver and against BullMQ, side by side, in one run on
 * one machine (issue 19, "Speed"). See bench/README.md for what every figure means.
 *
 * For each bus, repetition by repetition and alternating (jobbus, raw, BullMQ, jobbus, raw, …):
 * N jobs (BENCH_JOBS, default 50 000) with a 100-byte payload, enqueued in batches of 500,
 * consumed with concurrency 64 by a no-op handler; clock from the first enqueue to the last
 * job handled. Kafka (8 partitions) runs the jobbus and raw legs once per driver (kafkajs, and
 * `@platformatic/kafka` when the bus has the `driver` option and the package loads). Then the
 * enqueue-to-handler-start latency at low load (300 jobs, one per 10 ms) of jobbus on Kafka and
 * NATS and of BullMQ. Prints every run, the medians, the ratios, and last `RESULT {json}`.
 *
 * Env: BENCH_JOBS, BENCH_REPS (default 3), BENCH_BUSES=kafka,nats, BENCH_ONLY=<leg ids or
 * prefixes, comma-separated> (e.g. `kafka-jobbus-kafkajs` alone, for `node --cpu-prof`),
 * BENCH_PREFETCH (createJobbus `prefetch`), JOBBUS_KAFKA_BROKERS, JOBBUS_NATS_URL, JOBBUS_REDIS_URL.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { createKafkaEventBus } from '../src/eventbus/kafka/index.js';
import { createNatsEventBus } from '../src/eventbus/nats/index.js';
import { BROKERS_DIR, ensureKafka, readUpState } from '../test/setup/brokers.js';
import { benchReps, envNumber, progress, runMain } from './lib.js';
import { bullmqLatency, bullmqThroughput, cleanupBullmq } from './workloads/bullmq.js';
import { jobbusLatency, jobbusThroughput } from './workloads/jobbus.js';
import { kafkaTopics, platformaticAvailable, rawKafkajs, rawPlatformatic, type KafkaTopics } from './workloads/kafka-raw.js';
import { deleteStreams, NATS_URL, rawJetStream } from './workloads/nats-raw.js';
import { report, type Figures } from './workloads/report.js';
import { lastWindowUs, type LatencyFigures } from './workloads/shared.js';

const JOBS = envNumber('BENCH_JOBS', 50_000);
const REPS = benchReps();
const BUSES = new Set((process.env.BENCH_BUSES ?? 'kafka,nats').split(','));
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : undefined;
const say = progress('bench');
const tag = `bench_${Date.now().toString(36)}`;
const silent = pino({ level: 'silent' });

/** The Kafka client libraries the bus may drive; the bus's default first. */
type KafkaDriver = 'kafkajs' | 'platformatic';

/** Whether leg `id` runs (BENCH_ONLY lists ids or their prefixes). */
const wanted = (id: string): boolean => !ONLY || ONLY.some((o) => id.startsWith(o));

/** A Kafka bus on `driver` (always named: the bus's default depends on what is installed), 8 partitions per topic. */
function kafkaBus(brokers: readonly string[], driver: KafkaDriver) {
  const options = { brokers: [...brokers], clientId: 'jobbus-bench', topics: { partitions: 8, replicationFactor: 1 }, driver };
  return createKafkaEventBus(options);
}

/**
 * The drivers to measure, the bus's default first (the headline ratios use the first): kafkajs,
 * plus platformatic when the bus validates `driver` and the package loads.
 */
async function kafkaDrivers(brokers: readonly string[]): Promise<KafkaDriver[]> {
  const validated = await (kafkaBus(brokers, 'nope' as KafkaDriver) as Promise<{ close(): Promise<void> }>).then(
    async (bus) => (await bus.close(), false),
    () => true,
  );
  if (!validated) say('the Kafka bus has no `driver` option yet: kafkajs only');
  else if (!(await platformaticAvailable())) say('@platformatic/kafka does not load: kafkajs only');
  if (!validated || !(await platformaticAvailable())) return ['kafkajs'];
  const bus = await createKafkaEventBus({ brokers });
  await bus.close();
  return bus.driver === 'platformatic' ? ['platformatic', 'kafkajs'] : ['kafkajs', 'platformatic'];
}

/** Run `fn` as leg `id` of repetition `rep` (when wanted) and record its figure. */
async function leg(figures: Figures, id: string, fn: () => Promise<number>): Promise<void> {
  if (!wanted(id)) return;
  const x = await fn();
  (figures.runs[id] ??= []).push(x);
  say(`${id}: ${Math.round(x)}/s (load ${os.loadavg()[0]!.toFixed(2)}; clock window ${lastWindowUs.join('..')} monotonic µs)`);
}

/** Record a latency leg. */
async function latencyLeg(figures: Figures, id: string, fn: () => Promise<LatencyFigures>): Promise<void> {
  if (!wanted(id)) return;
  const l = await fn();
  (figures.latency[id] ??= []).push(l);
  say(`${id}: p50 ${l.p50.toFixed(1)} ms p99 ${l.p99.toFixed(1)} ms max ${l.max.toFixed(1)} ms`);
}

async function kafkaBlock(figures: Figures, topics: KafkaTopics, drivers: readonly KafkaDriver[]): Promise<void> {
  for (let rep = 1; rep <= REPS; rep++) {
    say(`Kafka, repetition ${rep}/${REPS}`);
    for (const driver of drivers) {
      await leg(figures, `kafka-jobbus-${driver}`, async () => jobbusThroughput(await kafkaBus(topics.brokers, driver), topics.name('grp'), topics.name(`e2e-${driver}`), JOBS));
      await leg(figures, `kafka-raw-${driver}`, () => (driver === 'kafkajs' ? rawKafkajs(topics, JOBS) : rawPlatformatic(topics, JOBS)));
    }
    await leg(figures, 'kafka-bullmq', () => bullmqThroughput(`${tag}-k${rep}`, JOBS));
  }
}

/** A NATS bus on its own subject prefix; `run` names it, its streams are deleted by `cleanup`. */
async function natsBus(run: string) {
  const subjectPrefix = `${tag}_${run}`;
  const bus = await createNatsEventBus({ servers: NATS_URL, subjectPrefix, logger: silent });
  return { bus, cleanup: () => deleteStreams(subjectPrefix.toUpperCase()) };
}

async function natsBlock(figures: Figures): Promise<void> {
  for (let rep = 1; rep <= REPS; rep++) {
    say(`NATS, repetition ${rep}/${REPS}`);
    await leg(figures, 'nats-jobbus', async () => {
      const { bus, cleanup } = await natsBus(`e${rep}`);
      try {
        return await jobbusThroughput(bus, 'bench', 'jobs', JOBS);
      } finally {
        await cleanup();
      }
    });
    await leg(figures, 'nats-raw', () => rawJetStream(tag, `r${rep}`, JOBS, true));
    await leg(figures, 'nats-bullmq', () => bullmqThroughput(`${tag}-n${rep}`, JOBS));
  }
}

async function latencyBlock(figures: Figures, topics: KafkaTopics | undefined, drivers: readonly KafkaDriver[]): Promise<void> {
  for (let rep = 1; rep <= REPS; rep++) {
    say(`latency, repetition ${rep}/${REPS}`);
    for (const driver of topics ? drivers : []) {
      await latencyLeg(figures, `latency-kafka-${driver}`, async () => jobbusLatency(await kafkaBus(topics!.brokers, driver), topics!.name('grp'), topics!.name(`lat-${driver}`)));
    }
    if (BUSES.has('nats')) {
      await latencyLeg(figures, 'latency-nats', async () => {
        const { bus, cleanup } = await natsBus(`l${rep}`);
        try {
          return await jobbusLatency(bus, 'bench', 'jobs');
        } finally {
          await cleanup();
        }
      });
    }
    await latencyLeg(figures, 'latency-bullmq', () => bullmqLatency(`${tag}-l${rep}`));
  }
}

async function main(): Promise<void> {
  const figures: Figures = { runs: {}, latency: {}, loadBefore: os.loadavg(), loadAfter: [], kafkaDrivers: [] };
  say(`${JOBS} jobs, ${REPS} repetitions, buses ${[...BUSES].join(', ')}${ONLY ? `, only ${ONLY.join(', ')}` : ''}; load ${figures.loadBefore.map((x) => x.toFixed(2)).join(' ')}`);
  let topics: KafkaTopics | undefined;
  let stopKafka: (() => Promise<void>) | undefined;
  try {
    if (BUSES.has('kafka')) {
      const kafka = await ensureKafka({ runDir: path.join(BROKERS_DIR, 'bench'), reuse: readUpState(), log: say });
      stopKafka = () => kafka.stop();
      topics = await kafkaTopics(kafka.address.split(','));
      figures.kafkaDrivers = await kafkaDrivers(topics.brokers);
      say(`Kafka at ${kafka.address} (${kafka.origin}); drivers ${figures.kafkaDrivers.join(', ')}`);
      await kafkaBlock(figures, topics, figures.kafkaDrivers);
    }
    if (BUSES.has('nats')) await natsBlock(figures);
    await latencyBlock(figures, topics, figures.kafkaDrivers);
  } finally {
    await topics?.cleanup().catch((err: unknown) => say(`topic cleanup failed: ${String(err)}`));
    await stopKafka?.();
    const left = await cleanupBullmq();
    if (left) say(`removed ${left} leftover BullMQ keys`);
  }
  figures.loadAfter = os.loadavg();
  report(figures, { jobs: JOBS, reps: REPS });
}

runMain(main);
