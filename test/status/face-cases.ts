/**
 * createJobbus({ status }) on one bus: a job that succeeds, one retried then completed, one
 * dead-lettered, one put off; their states through jobs.status and jobs.statusSnapshot.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createJobbus, NotInitializedError, PermanentError, RetryLaterError, type EventBus, type Jobbus, type JobStatusStore } from '../../src/index.js';
import { deferred, waitFor } from '../support/wait.js';

/** What one bus and store pair needs. */
export interface FaceSetup {
  makeBus(): Promise<EventBus>;
  /** A fresh, empty store. */
  makeStore(): Promise<JobStatusStore>;
  queue(prefix: string): string;
  /** Longest a job may take to arrive on this bus, ms. */
  readonly arrivalMs: number;
}

const FAST_RETRY = { initialBackoffMs: 10, maxBackoffMs: 50, jitter: 0, attemptTimeoutMs: 5_000, maxAttempts: 3 };

/** Registers the status face cases for one bus. */
export function statusFaceCases(name: string, setup: FaceSetup): void {
  describe(`job status through createJobbus on ${name}`, () => {
    const open: Jobbus[] = [];
    afterEach(async () => {
      await Promise.allSettled(open.splice(0).map((j) => j.close()));
    });
    const jobbus = async (store?: JobStatusStore): Promise<Jobbus> => {
      const jobs = createJobbus({ bus: await setup.makeBus(), ackTimeoutMs: 5_000, ...(store && { status: store }) });
      open.push(jobs);
      return jobs;
    };

    it('records pending, processing, then completed, retrying and completed, dead, and counts them', async () => {
      const queue = setup.queue('status');
      const jobs = await jobbus(await setup.makeStore());
      const gate = deferred();
      const attempts = new Map<string, number>();
      const tries = (id: string): number => {
        const n = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, n);
        return n;
      };
      const worker = jobs.worker({
        queues: [queue],
        retry: FAST_RETRY,
        handlers: {
          ok: async () => gate.promise,
          flaky: (job) => {
            if (tries(job.id) === 1) throw new Error('flaky: first attempt fails');
          },
          doomed: () => {
            throw new PermanentError('doomed: never works');
          },
          later: (job) => {
            if (tries(job.id) === 1) throw new RetryLaterError(30, 'later: not yet');
          },
        },
      });
      const ok = await jobs.enqueue({ name: 'ok', queue, payload: {} });
      // Written in the background once the bus accepted the job.
      const pending = await waitFor(() => jobs.status(ok.id), 'the pending record', 5_000, 10);
      expect(pending).toMatchObject({ jobId: ok.id, name: 'ok', queue, state: 'pending', attempt: 0 });
      expect(pending.enqueuedAt?.getTime()).toBe(ok.createdAt.getTime());

      await worker.start();
      await waitFor(async () => (await jobs.status(ok.id))?.state === 'processing', 'the ok job to be processing', setup.arrivalMs);
      const flaky = await jobs.enqueue({ name: 'flaky', queue, payload: {} });
      const doomed = await jobs.enqueue({ name: 'doomed', queue, payload: {} });
      const later = await jobs.enqueue({ name: 'later', queue, payload: {} });
      gate.resolve();

      const final = async (id: string) => waitFor(async () => {
        const s = await jobs.status(id);
        return s && ['completed', 'failed', 'dead'].includes(s.state) ? s : undefined;
      }, `job ${id} to finish`, setup.arrivalMs + 5_000, 20);
      expect(await final(ok.id)).toMatchObject({ state: 'completed', attempt: 0 });
      expect(await final(flaky.id)).toMatchObject({ state: 'completed', attempt: 1 });
      const dead = await final(doomed.id);
      expect(dead).toMatchObject({ state: 'dead', attempt: 0, name: 'doomed', queue });
      expect(dead.error).toContain('doomed: never works');
      expect(await final(later.id)).toMatchObject({ state: 'completed', attempt: 0 });
      expect(attempts.get(flaky.id)).toBe(2);

      const snap = await jobs.statusSnapshot();
      expect(snap.total).toBe(4);
      expect(snap.byState).toEqual({ pending: 0, processing: 0, retrying: 0, completed: 3, failed: 0, dead: 1 });
      expect(snap.byQueue[queue]).toEqual(snap.byState);
      expect(snap.byName['doomed']).toMatchObject({ dead: 1, completed: 0 });
      expect(snap.byName['flaky']).toMatchObject({ completed: 1 });
      expect(snap.writes).toMatchObject({ failed: 0, dropped: 0 });
      expect(snap.writes!.recorded).toBeGreaterThanOrEqual(4);
    });

    it('records a retry as retrying with its reason, and failed for a job given up on a worker without a DLQ', async () => {
      const queue = setup.queue('nodlq');
      const jobs = await jobbus(await setup.makeStore());
      const hold = deferred();
      let calls = 0;
      const worker = jobs.worker({
        queues: [queue],
        retry: { ...FAST_RETRY, initialBackoffMs: 60_000, maxBackoffMs: 60_000, maxAttempts: 2 },
        dlq: { enabled: false },
        handlers: {
          slow: () => {
            calls++;
            throw new Error('slow: boom');
          },
          gone: async () => {
            await hold.promise;
            throw new PermanentError('gone: no such user');
          },
        },
      });
      await worker.start();
      const slow = await jobs.enqueue({ name: 'slow', queue, payload: {} });
      const gone = await jobs.enqueue({ name: 'gone', queue, payload: {} });
      // The retry is a minute away: the record stays retrying with the attempt that failed.
      const retrying = await waitFor(async () => {
        const s = await jobs.status(slow.id);
        return s?.state === 'retrying' ? s : undefined;
      }, 'the slow job to be retrying', setup.arrivalMs);
      expect(retrying).toMatchObject({ attempt: 0, error: 'slow: boom' });
      expect(calls).toBe(1);
      hold.resolve();
      const failed = await waitFor(async () => {
        const s = await jobs.status(gone.id);
        return s?.state === 'failed' ? s : undefined;
      }, 'the gone job to be failed', setup.arrivalMs);
      expect(failed.error).toContain('gone: no such user');
    });

    it('without a store: nothing is wrapped, and status and statusSnapshot reject with a NotInitializedError', async () => {
      const jobs = await jobbus();
      const queue = setup.queue('off');
      const job = await jobs.enqueue({ name: 'ok', queue, payload: {} });
      await expect(jobs.status(job.id)).rejects.toBeInstanceOf(NotInitializedError);
      await expect(jobs.statusSnapshot()).rejects.toThrow(/job status is off/);
    });
  });
}
