/**
 * Crash with delayed jobs (issue 13), on real brokers with real processes.
 *
 * 1,000 jobs due spread over 10 s; the only worker (a child process) is killed with SIGKILL at
 * 5 s and a new one started at 7 s. Every job must run, none before its runAt. Executions are
 * recorded in PostgreSQL by the worker processes themselves (see worker-process.ts).
 *
 * To keep the suite fast the workers use short failure detection, and the test says so:
 * - Kafka: `consumer.sessionTimeoutMs` 6 000 (default 30 000): the group drops the dead member
 *   (and its relay consumers) after that, and only then hands its partitions to B.
 * - NATS: `createRuntimeBackend(runtime, { ackTimeoutMs: 3_000 })` (default 30 000): the group
 *   consumer's ack wait, after which the server redelivers what the dead worker held; and
 *   `createNatsEventBus({ relayAckWaitMs: 3_000 })` (default 10 000): the same for the delayed
 *   jobs the dead worker's delay relays held.
 * With the defaults the same scenario passes, only slower: measure-crash-defaults.ts measures it.
 * The test waits up to 40 s after the kill: a job not run by then fails it.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createEventBusBridge, type EventBusBridge } from '../../src/index.js';
import { createKafkaEventBus } from '../../src/eventbus/kafka/index.js';
import { kafkaBrokers, natsUrl, pgUrl, uniqueName } from '../setup/env.js';
import { cleanup as cleanupKafkaTopics, topicName } from '../kafka/helpers.js';
import { natsScope } from '../nats/helpers.js';
import { formatReport, runCrashScenario, type CrashReport } from './crash-scenario.js';
import { killAllWorkers } from './processes.js';

const TEST_TIMEOUT_MS = 60_000;

function ledgerTable(prefix: string): string {
  return uniqueName(prefix).replace(/-/g, '_');
}

/** The assertions every bus must pass. */
function expectNoLossNoEarly(bus: string, r: CrashReport): void {
  console.log(formatReport(bus, r));
  // Counts first, so a failure says how many; then a few for the hunt. "Not run" = not started
  // 40 s after the kill, with failure detection set to 3-6 s: lost, or stuck far longer than the
  // configured ack timeout / session timeout promises.
  expect({ notRun: r.lost.length, someNotRun: r.lost.slice(0, 5) }).toEqual({ notRun: 0, someNotRun: [] });
  const early = r.early.map((e) => `${e.jobId} ${e.runAt - e.startedAt} ms early`);
  expect({ early: early.length, someEarly: early.slice(0, 5) }).toEqual({ early: 0, someEarly: [] });
  // Duplicates come only from what A had in flight: jobs it was running (started, not acked, or
  // acked moments before the kill so the ack or commit may not have reached the broker), or
  // copies its delay relay forwarded without recording it (jobs A never ran). A job A ran and
  // settled well before the crash must never run again.
  expect(r.unexplainedDuplicates.slice(0, 5), `${r.unexplainedDuplicates.length} duplicates not explained by what A had in flight`).toEqual([]);
  // The scenario must have crashed something: A ran jobs, and B ran the rest.
  expect(r.aExecutions).toBeGreaterThan(0);
}

afterEach(async () => {
  await killAllWorkers();
});

describe('crash with delayed jobs: Kafka', () => {
  afterAll(cleanupKafkaTopics);

  it(
    'crash with delayed jobs: Kafka — 1,000 jobs due over 10 s, worker SIGKILLed at 5 s, new one at 7 s: none lost, none early',
    async () => {
      const queue = topicName('crash');
      const producerBus = await createKafkaEventBus({ brokers: kafkaBrokers(), clientId: 'jobbus-crash-producer' });
      const runtime: EventBusBridge = createEventBusBridge(producerBus);
      try {
        const report = await runCrashScenario({
          bus: { kind: 'kafka', brokers: kafkaBrokers(), sessionTimeoutMs: 6_000 },
          queue,
          enqueueBatch: (jobs) => runtime.enqueueBatch(jobs),
          pgUrl: pgUrl(),
          ledgerTable: ledgerTable('crash_kafka'),
          log: (l) => console.log(`[kafka] ${l}`),
        });
        expectNoLossNoEarly('kafka', report);
      } finally {
        await runtime.close();
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe('crash with delayed jobs: NATS', () => {
  const scope = natsScope('crash');
  afterAll(() => scope.cleanup());

  it(
    'crash with delayed jobs: NATS — 1,000 jobs due over 10 s, worker SIGKILLed at 5 s, new one at 7 s: none lost, none early',
    async () => {
      const runtime = createEventBusBridge(await scope.bus());
      try {
        const report = await runCrashScenario({
          bus: { kind: 'nats', servers: natsUrl(), subjectPrefix: scope.subjectPrefix, streamPrefix: scope.streamPrefix, relayAckWaitMs: 3_000 },
          ackTimeoutMs: 3_000,
          queue: 'crash',
          enqueueBatch: (jobs) => runtime.enqueueBatch(jobs),
          pgUrl: pgUrl(),
          ledgerTable: ledgerTable('crash_nats'),
          log: (l) => console.log(`[nats] ${l}`),
        });
        expectNoLossNoEarly('nats', report);
      } finally {
        await runtime.close();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
