/**
 * The jobs conformance suite (src/testing/conformance.ts) on the Kafka bus, with short delay
 * tiers and small group timeouts so it runs in reasonable time.
 */
import { afterAll } from 'vitest';
import { runConformance } from '../conformance/suite.js';
import { cleanup, makeBus, topicName } from './helpers.js';

afterAll(cleanup);

runConformance({
  name: 'the Kafka bus',
  createBus: () => makeBus({ delayTiersMs: [200, 1_000, 5_000] }),
  queueName: (prefix) => topicName(prefix),
  patienceMs: 20_000,
});
