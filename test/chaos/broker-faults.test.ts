/**
 * Short versions of the chaos scenarios that fault the broker (3: killed, stopped) and the
 * network (4: connections cut, then stalled), each on a broker process of the suite's own with
 * a TCP proxy between the worker processes and it. `npm run chaos` runs the full sizes.
 */
import { afterEach, describe, it } from 'vitest';
import { chaosBuses, expectChecksPass, useOwnTarget } from './harness/expect.js';
import { killAllWorkers } from './harness/processes.js';
import { brokerOutage, networkFaults } from './scenarios/broker-faults.js';

afterEach(killAllWorkers);

for (const kind of chaosBuses()) {
  describe(`chaos (short): broker and network faults on ${kind}`, () => {
    const own = useOwnTarget(kind, { proxied: true });

    it(`3 broker killed on ${kind}: SIGKILL under load, restarted on the same data after 5 s: none lost, retryable errors only, workers resume`, async () => {
      expectChecksPass(await brokerOutage(own(), 'short', 'kill'));
    }, 150_000);

    it(`3 broker stopped on ${kind}: graceful stop under load, restarted after 5 s: none lost, retryable errors only, workers resume`, async () => {
      expectChecksPass(await brokerOutage(own(), 'short', 'stop'));
    }, 150_000);

    it(`4 network on ${kind}: workers' connections cut for 5 s, then stalled for 5 s: none lost, workers resume`, async () => {
      expectChecksPass(await networkFaults(own(), 'short'));
    }, 180_000);
  });
}
