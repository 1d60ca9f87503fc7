/**
 * Short versions of the chaos scenarios that fault the workers (1 worker crash, 2 rolling
 * restart, 5 delays under a crash), on the suite's Kafka and NATS with real worker processes and
 * the PostgreSQL ledger. `npm run chaos` runs the full sizes. Each test prints its account.
 */
import { afterAll, afterEach, describe, it } from 'vitest';
import { kafkaBrokers, natsUrl } from '../setup/env.js';
import { expectChecksPass } from './harness/expect.js';
import { killAllWorkers } from './harness/processes.js';
import { kafkaTarget, natsTarget, type ChaosTarget } from './harness/target.js';
import { crashDelayed } from './scenarios/crash-delayed.js';
import { rollingRestart } from './scenarios/rolling-restart.js';
import { workerCrash } from './scenarios/worker-crash.js';

const targets: Record<'kafka' | 'nats', () => Promise<ChaosTarget>> = {
  kafka: () => kafkaTarget({ brokers: kafkaBrokers() }),
  nats: () => natsTarget({ servers: natsUrl() }),
};

afterEach(killAllWorkers);

for (const kind of ['kafka', 'nats'] as const) {
  describe(`chaos (short): worker faults on ${kind}`, () => {
    let target: ChaosTarget | undefined;
    const get = async (): Promise<ChaosTarget> => (target ??= await targets[kind]());
    afterAll(() => target?.close());

    it(`1 worker crash on ${kind}: 3 workers, one SIGKILLed mid-run and replaced: none lost, duplicates within its in-flight`, async () => {
      expectChecksPass(await workerCrash(await get(), 'short'));
    }, 120_000);

    it(`2 rolling restart on ${kind}: every worker SIGTERMed in turn under load: none lost, none twice`, async () => {
      expectChecksPass(await rollingRestart(await get(), 'short'));
    }, 120_000);

    it(`5 delays under a crash on ${kind}: 1,000 jobs due over 10 s, the only worker SIGKILLed at 5 s, a new one at 7 s: none lost, none early`, async () => {
      expectChecksPass(await crashDelayed(await get(), 'short'));
    }, 120_000);
  });
}
