/**
 * Job-level regressions on NATS through the public API (jobs bridge, backend, worker) against
 * the real server.
 */
import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createJob, RetryLaterError } from '../../src/index.js';
import { createEventBusBridge, createRuntimeBackend, createWorker } from '../../src/advanced.js';
import { waitFor } from '../support/wait.js';
import { natsScope, uniqueName } from './helpers.js';

const scope = natsScope('jobs');
afterAll(() => scope.cleanup());

const silent = pino({ level: 'silent' });

describe('NATS jobs', () => {
  it('L1: a job rescheduled with RetryLaterError(0) hundreds of times is never dropped as a duplicate copy', async () => {
    const queue = uniqueName('l1');
    const bus = await scope.bus();
    const backend = createRuntimeBackend(createEventBusBridge(bus, { logger: silent, ownsBus: false }), { group: 'w' });
    const worker = createWorker(backend, { queues: [queue], concurrency: 4, reserveTimeoutMs: 100, stopTimeoutMs: 2_000 }, { logger: silent });
    const RUNS = 400;
    let runs = 0;
    let finished = false;
    worker.register('poll', async () => {
      runs++;
      // Copies are published within the same millisecond as their original ran: the old
      // job_id|attempt|runAt Msg-Id collided and the server dropped the copy (seen after 28-306 runs).
      if (runs < RUNS) throw new RetryLaterError(0);
      finished = true;
    });
    await worker.start();
    try {
      await backend.enqueue(createJob({ name: 'poll', queue, payload: {} }));
      await waitFor(() => finished, `run ${RUNS} (stopped at run ${runs})`, 25_000);
      expect(runs).toBe(RUNS);
    } finally {
      await worker.stop();
      await backend.close();
    }
  });
});
