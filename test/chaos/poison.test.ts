/**
 * Short versions of the poison scenario (issue 14, scenario 7) and of the bus fuzz, on the
 * memory bus, the real Kafka and the real NATS. The full versions run in `npm run chaos`.
 */
import { describe, expect, it } from 'vitest';
import { kafkaBrokers, natsUrl } from '../setup/env.js';
import { runPoisonScenario, type PoisonReport, type PoisonTarget } from './scenarios/poison.js';

const targets: Record<PoisonTarget['kind'], () => PoisonTarget> = {
  memory: () => ({ kind: 'memory' }),
  kafka: () => ({ kind: 'kafka', brokers: kafkaBrokers() }),
  nats: () => ({ kind: 'nats', servers: natsUrl() }),
};

function expectClean(r: PoisonReport): void {
  // The lists first: on a failure they say which job or case went wrong.
  expect(r.lostGood).toEqual([]);
  expect(r.lostBad).toEqual([]);
  expect(r.badReasons).toEqual([]);
  expect(r.unexpectedRuns).toEqual([]);
  expect(r.refusalProblems).toEqual([]);
  expect(r.lost).toBe(0);
  expect(r.completed).toBe(r.good);
  expect(r.deadLettered).toBe(r.bad);
  expect(r.deadLetterRefused).toBe(0);
  expect(r.refusedAtEnqueue).toBe(2);
  // The raw message over the size limit; on NATS also the one with headers over 64 KiB.
  expect(r.refusedByBroker).toBe(r.target === 'nats' ? 2 : 1);
  // Poison never holds the good jobs up: each starts within seconds of its enqueue.
  expect(r.stallMs).toBeLessThan(10_000);
}

describe('chaos 7: poison and bad input (short)', () => {
  for (const kind of ['memory', 'kafka', 'nats'] as const) {
    it(`${kind}: every good job runs, every stored bad message is in the DLQ with a decode reason, oversize is refused`, async () => {
      const report = await runPoisonScenario(targets[kind](), 'short');
      expectClean(report);
      expect(report.good).toBeGreaterThan(30);
      expect(report.bad).toBe(kind === 'memory' ? 16 : kind === 'kafka' ? 20 : 19);
      if (kind === 'memory') expect(report.skippedCases.length).toBe(4);
    }, 60_000);
  }
});
