/**
 * The jobs conformance suite: the jobs contract, written once and run against every bus
 * (memory, Kafka, NATS, a third party's). A bus passes when every behaviour here holds on it.
 * Each behaviour lives in its own module under `conformance/`; each test uses its own queues.
 */
import { createContext } from './conformance/context.js';
import { deliveryCases } from './conformance/delivery.js';
import { delayCases } from './conformance/delays.js';
import { retryCases } from './conformance/retries.js';
import { deadLetterCases } from './conformance/dlq.js';
import { poisonCases } from './conformance/poison.js';
import { leaseCases } from './conformance/leases.js';
import { shutdownCases } from './conformance/shutdown.js';
import { orderingCases } from './conformance/ordering.js';
import { pauseCases } from './conformance/pause.js';
import type { ConformanceTarget, ConformanceTestApi } from './conformance/types.js';

export type { ConformanceMatchers, ConformanceTarget, ConformanceTestApi } from './conformance/types.js';

/**
 * Run the jobs conformance suite against `target`: a third-party bus proves itself with
 * `runConformance(target, { describe, it, afterEach, expect })` from its test framework.
 */
export function runConformance(target: ConformanceTarget, api: ConformanceTestApi): void {
  api.describe(`jobs contract on ${target.name}`, () => {
    const ctx = createContext(target, api);
    api.afterEach(async () => {
      for (const c of ctx.cleanups.splice(0).reverse()) await c().catch(() => undefined);
    });

    deliveryCases(ctx); // intact payloads, batches, concurrency, groups, job-name limits
    delayCases(ctx); // runAt, however the job was published
    retryCases(ctx); // backoff, nack, RetryLaterError, odd throws
    deadLetterCases(ctx); // exhausted attempts, PermanentError, replay
    poisonCases(ctx); // undecodable, schema-failing and handler-less jobs
    leaseCases(ctx); // expiry, renew, attempt timeouts, maxInFlight
    shutdownCases(ctx); // stop drains, aborts, hands jobs back; close releases
    orderingCases(ctx); // partition keys
    pauseCases(ctx); // pause and resume a queue for a group, across instances and restarts
  });
}
