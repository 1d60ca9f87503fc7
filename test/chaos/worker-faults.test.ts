/**
 * Short versions of the chaos scenarios that fault the workers (1 worker crash, 2 rolling
 * restart, 5 delays under a crash), on a Kafka and a NATS broker of the suite's own (own-target.ts:
 * the chaos project runs after the other tests, one file at a time), with real worker processes and
 * the PostgreSQL ledger. `npm run chaos` runs the full sizes. Each test prints its account.
 */
import { afterEach, describe, it } from 'vitest';
import { chaosBuses, expectChecksPass, targetOf, useOwnTarget } from './harness/expect.js';
import { killAllWorkers } from './harness/processes.js';
import { crashDelayed } from './scenarios/crash-delayed.js';
import { rollingRestart } from './scenarios/rolling-restart.js';
import { workerCrash } from './scenarios/worker-crash.js';

afterEach(killAllWorkers);

for (const kind of chaosBuses()) {
  describe(`chaos (short): worker faults on ${kind}`, () => {
    const get = targetOf(useOwnTarget(kind));

    it(`1 worker crash on ${kind}: 3 workers, one SIGKILLed mid-run and replaced: none lost, duplicates within its in-flight`, async () => {
      expectChecksPass(await workerCrash(get(), 'short'));
    }, 120_000);

    it(`2 rolling restart on ${kind}: every worker SIGTERMed in turn under load: none lost, none twice`, async () => {
      expectChecksPass(await rollingRestart(get(), 'short'));
    }, 120_000);

    it(`5 delays under a crash on ${kind}: 1,000 jobs due over 10 s, the only worker SIGKILLed at 5 s, a new one at 7 s: none lost, none early`, async () => {
      expectChecksPass(await crashDelayed(get(), 'short'));
    }, 120_000);
  });
}
