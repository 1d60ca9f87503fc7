/**
 * Short versions of the poison scenario (issue 14, scenario 7) and of the bus fuzz, on the
 * memory bus, the real Kafka and the real NATS. The full versions run in `npm run chaos`.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { createJob, PermanentError } from '../../src/index.js';
import { createBusDLQStore, createEventBusBridge, createRuntimeBackend, createWorker, encodeJob } from '../../src/advanced.js';
import { openRig } from './scenarios/poison-target.js';
import { kafkaBrokers, natsUrl } from '../setup/env.js';
import { runPoisonScenario, type PoisonReport, type PoisonTarget } from './scenarios/poison.js';
import { runBusFuzz } from './scenarios/poison-fuzz.js';

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
      // NATS: one case more (a header line its client refuses), one refused by the broker (headers over 64 KiB).
      expect(report.bad).toBe(kind === 'memory' ? 16 : kind === 'kafka' ? 20 : 20);
      expect(report.skippedCases.length).toBe(kind === 'memory' ? 5 : kind === 'kafka' ? 1 : 0);
    }, 60_000);
  }
});

describe('chaos 7: bus fuzz (short)', () => {
  const counts = { memory: 2_000, kafka: 1_000, nats: 1_000 } as const;
  for (const kind of ['memory', 'kafka', 'nats'] as const) {
    it(`${kind}: ${counts[kind]} random messages, each handled or dead-lettered, no uncaught error, no stall`, async () => {
      const r = await runBusFuzz(targets[kind](), counts[kind]);
      expect({ lost: r.lost.slice(0, 10), uncaught: r.uncaught.slice(0, 5), seed: r.seed }).toEqual({ lost: [], uncaught: [], seed: r.seed });
      expect(r.handled + r.deadLettered).toBe(r.published);
      expect(r.published).toBeGreaterThan(counts[kind] * 0.9);
      // Both outcomes occur: the fuzz is neither all good nor all poison.
      expect(r.handled).toBeGreaterThan(counts[kind] / 40);
      expect(r.deadLettered).toBeGreaterThan(counts[kind] / 10);
      expect(r.settleMs).toBeLessThan(15_000);
    }, 60_000);
  }
});

describe('chaos 7: NATS header limit', () => {
  /*
   * JetStream refuses a message whose header block exceeds 64 KiB (code 10097), apart from
   * max_payload. A job whose headers sat a little under it used to be accepted, and when it
   * failed, its retry and dead-letter copies (which add the failure headers) were refused for
   * good, even with a minimal reason: it stayed in its queue forever (S1 broken). The NATS bus
   * now reports `maxHeaderBytes` and the bridge refuses such a job at enqueue.
   */
  it('nats: a job with headers just under 64 KiB is refused at enqueue (its failure copies would not fit)', async () => {
    const rig = await openRig(targets.nats());
    const logger = pino({ level: 'silent' });
    const queue = rig.queueName('hdr');
    const bridge = createEventBusBridge(rig.bus, { ownsBus: false, logger });
    const backend = createRuntimeBackend(bridge, { logger });
    const worker = createWorker(backend, { queues: [queue], reserveTimeoutMs: 100 }, { logger });
    worker.register('n', async () => {
      throw new PermanentError('x'.repeat(3_000));
    });
    try {
      const probe = encodeJob(createJob({ name: 'n', queue, payload: 'x', headers: { blob: '' } }));
      let headerBytes = 0;
      for (const [k, v] of Object.entries(probe.headers)) headerBytes += k.length + v.length + 4;
      const job = createJob({ name: 'n', queue, payload: 'x', headers: { blob: 'b'.repeat(65_536 - 200 - headerBytes) } });
      let outcome = 'accepted';
      try {
        await backend.enqueue(job);
      } catch (err) {
        expect(err).toMatchObject({ code: 'PUBLISH_REJECTED', message: expect.stringMatching(/bytes of headers/) });
        outcome = 'refused at enqueue';
      }
      if (outcome === 'accepted') {
        await worker.start();
        const dlq = createBusDLQStore(rig.bus);
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline && bridge.counters().deadLetterRefused === 0) {
          if ((await dlq.listDLQ(queue, 10)).length > 0) {
            outcome = 'dead-lettered';
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        if (outcome === 'accepted') outcome = `stuck (dead-letter copies refused: ${bridge.counters().deadLetterRefused})`;
      }
      expect(outcome).toBe('refused at enqueue');
    } finally {
      await worker.stop().catch(() => undefined); // never started when refused at enqueue
      await backend.close();
      await rig.close();
    }
  }, 30_000);
});
