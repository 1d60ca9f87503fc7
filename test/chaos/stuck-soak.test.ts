/**
 * Short versions of chaos scenarios 6 (long and stuck handlers) and 8 (soak) on a Kafka and a
 * NATS broker of the suite's own (own-target.ts), with real worker processes and the PostgreSQL ledger. `npm run chaos` runs the
 * full sizes (a 30 s stuck handler among 10,000 jobs; a 10-minute soak). Each test prints its account.
 */
import { afterEach, describe, it } from 'vitest';
import { killAllWorkers } from './harness/processes.js';
import { soak } from './scenarios/soak.js';
import { stuckHandler } from './scenarios/stuck-handler.js';
import { expectChecksPass, targetOf, useOwnTarget } from './harness/expect.js';

afterEach(killAllWorkers);

for (const kind of ['kafka', 'nats'] as const) {
  describe(`chaos (short): stuck handlers and soak on ${kind}`, () => {
    const get = targetOf(useOwnTarget(kind));

    it(`6 stuck handler on ${kind}: a handler ignoring its abort outlives timeout and lease for 12 s among 2,000 jobs, then its process is SIGKILLed: no stall, no stale ack, none lost, duplicates within the bound`, async () => {
      expectChecksPass(await stuckHandler(get(), 'short'));
    }, 90_000);

    it(`8 soak on ${kind}: 30 s of mixed load at 200 jobs/s through 2 workers: none lost, permanent ones in the DLQ, RSS and event-loop lag flat`, async () => {
      expectChecksPass(await soak(get(), 'short'));
    }, 90_000);
  });
}
