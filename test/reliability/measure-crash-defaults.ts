/**
 * Measurement, not a test: the "crash with delayed jobs" scenario (crash-scenario.ts) with the
 * DEFAULT failure detection, to tell users how late the jobs a crashed worker had in flight come
 * back: Kafka `consumer.sessionTimeoutMs` (default 30 000) and NATS ack wait =
 * `createRuntimeBackend(runtime, { ackTimeoutMs })` (default 30 000).
 *
 *   source .brokers/env && npx tsx test/reliability/measure-crash-defaults.ts [kafka|nats]...
 *
 * Prints the scenario report per bus (the test asserts; this only prints). Deletes what it made.
 * Handlers take MEASURE_HANDLER_MS (default 100) instead of the test's 5 ms, so that about ten
 * jobs are running when the worker is killed and their comeback can be measured.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import pino from 'pino';
import { createEventBusBridge } from '../../src/index.js';
import { createKafkaEventBus } from '../../src/eventbus/kafka/index.js';
import { createNatsEventBus } from '../../src/eventbus/nats/index.js';
import { formatReport, runCrashScenario } from './crash-scenario.js';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (source .brokers/env)`);
  return v;
}

const tag = `crashdef_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const log = (bus: string) => (line: string) => console.log(`[${bus}] ${line}`);
const silent = pino({ level: 'silent' });
const handlerMs = Number(process.env.MEASURE_HANDLER_MS ?? 100);

async function kafka(): Promise<void> {
  const brokers = env('JOBBUS_KAFKA_BROKERS').split(',');
  const queue = `${tag}-kafka`;
  const runtime = createEventBusBridge(await createKafkaEventBus({ brokers, clientId: 'jobbus-crash-measure' }), { logger: silent });
  try {
    const r = await runCrashScenario({
      bus: { kind: 'kafka', brokers },
      queue,
      enqueueBatch: (jobs) => runtime.enqueueBatch(jobs),
      pgUrl: env('JOBBUS_PG_URL'),
      ledgerTable: `${tag}_kafka`,
      completeWithinMs: 90_000,
      handlerMs,
      log: log('kafka defaults'),
    });
    console.log(formatReport('kafka defaults', r));
  } finally {
    await runtime.close();
    const admin = new Kafka({ brokers, clientId: 'jobbus-crash-measure-admin', logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const mine = (await admin.listTopics()).filter((t) => t === queue || t.startsWith(`${queue}.`));
    if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.disconnect();
  }
}

async function nats(): Promise<void> {
  const servers = env('JOBBUS_NATS_URL');
  const subjectPrefix = `${tag}_n`;
  const streamPrefix = subjectPrefix.toUpperCase();
  const runtime = createEventBusBridge(await createNatsEventBus({ servers, subjectPrefix, streamPrefix, logger: silent }), { logger: silent });
  try {
    const r = await runCrashScenario({
      bus: { kind: 'nats', servers, subjectPrefix, streamPrefix },
      queue: 'crash',
      enqueueBatch: (jobs) => runtime.enqueueBatch(jobs),
      pgUrl: env('JOBBUS_PG_URL'),
      ledgerTable: `${tag}_nats`,
      completeWithinMs: 90_000,
      handlerMs,
      log: log('nats defaults'),
    });
    console.log(formatReport('nats defaults', r));
  } finally {
    await runtime.close();
    const nc = await connect({ servers });
    const jsm = await jetstreamManager(nc);
    // The queue and delay streams, and the bus's group registry (a KV bucket: stream KV_<prefix>_…).
    const mine = (n: string): boolean => n.startsWith(`${streamPrefix}_`) || n.startsWith(`KV_${streamPrefix}_`);
    for await (const name of jsm.streams.names()) if (mine(name)) await jsm.streams.delete(name).catch(() => undefined);
    await nc.close();
  }
}

const which = process.argv.slice(2);
const buses = which.length ? which : ['kafka', 'nats'];
for (const bus of buses) {
  if (bus === 'kafka') await kafka();
  else if (bus === 'nats') await nats();
  else throw new Error(`unknown bus ${bus}: kafka or nats`);
}
