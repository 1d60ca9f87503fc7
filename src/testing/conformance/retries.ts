/**
 * Retries: a failing job is retried with backoff, a nack publishes the retry copy, a
 * RetryLaterError reschedules without spending an attempt (and is never lost, L1), and
 * handlers that throw non-errors are retried like any other failure.
 */
import { createJob } from '../../jobs/job.js';
import { H as HEADERS } from '../../headers/index.js';
import { LeaseExpiredError, RetryLaterError } from '../../errors.js';
import { deferred, waitFor } from '../wait.js';
import { FAST_RETRY, withTimeout, type ConformanceContext } from './context.js';

/** Register the retry cases (inside the suite's describe). */
export function retryCases(ctx: ConformanceContext): void {
  const { it, expect, patience, queueName, newBackend, newWorker } = ctx;

  it('retries a failing job with backoff until it succeeds', async () => {
    const queue = queueName('retry');
    const backend = await newBackend();
    const attempts: { attempt: number; at: number }[] = [];
    const done = deferred();
    await newWorker(backend, { queues: [queue] }, {
      flaky: async (job) => {
        attempts.push({ attempt: job.attempt, at: Date.now() });
        if (job.attempt < 2) throw new Error(`boom ${job.attempt}`);
        done.resolve();
      },
    });
    await backend.enqueue(createJob({ name: 'flaky', queue, payload: 'x' }));
    await withTimeout(done.promise, patience, 'third attempt');
    expect(attempts.map((a) => a.attempt)).toEqual([0, 1, 2]);
    // backoff: 30 ms after attempt 0, 60 ms after attempt 1 (jitter 0)
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(25);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(55);
  });

  it('nack publishes the retry copy with attempt + 1, its runAt and the failure reason', async () => {
    const queue = queueName('nack');
    const backend = await newBackend();
    await backend.enqueue(createJob({ name: 'n', queue, payload: 'x', headers: { keep: 'me' } }));
    const first = await waitFor(() => backend.reserve(queue, 5_000, { timeoutMs: 200 }), 'first reserve', patience);
    const runAt = new Date(Date.now() + 300);
    const nackedAt = Date.now();
    await backend.nack(first, runAt, 'transient failure');
    const second = await waitFor(() => backend.reserve(queue, 5_000, { timeoutMs: 200 }), 'retry copy', patience);
    expect(Date.now()).toBeGreaterThanOrEqual(runAt.getTime());
    expect(second.job.id).toBe(first.job.id);
    expect(second.job.attempt).toBe(1);
    expect(second.job.runAt.getTime()).toBe(runAt.getTime());
    // The failure travels in its own field (the codec's reserved headers), not among the user's headers.
    expect(second.job.failure?.reason).toBe('transient failure');
    expect(second.job.failure?.failedAt.getTime()).toBeGreaterThanOrEqual(nackedAt);
    expect(second.job.headers.keep).toBe('me');
    expect(Object.keys(second.job.headers).filter((k) => k.startsWith('job_'))).toEqual([]);
    expect(second.job.headers[HEADERS.failureReason]).toBeUndefined();
    await backend.ack(second);
    await expect(backend.ack(first)).rejects.toBeInstanceOf(LeaseExpiredError);
  });

  it('reschedules a RetryLaterError without spending an attempt', async () => {
    const queue = queueName('later');
    const backend = await newBackend();
    const seen: { attempt: number; at: number }[] = [];
    const done = deferred();
    await newWorker(backend, { queues: [queue] }, {
      l: async (job) => {
        seen.push({ attempt: job.attempt, at: Date.now() });
        if (seen.length < 3) throw new RetryLaterError(150);
        done.resolve();
      },
    });
    await backend.enqueue(createJob({ name: 'l', queue, payload: 'x', maxAttempts: 1 }));
    await withTimeout(done.promise, patience, 'third delivery');
    expect(seen.map((s) => s.attempt)).toEqual([0, 0, 0]);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(140);
  });

  it('L1: a job rescheduled with RetryLaterError(0) over and over is never lost', async () => {
    const queue = queueName('l1');
    const backend = await newBackend();
    const runs: number[] = [];
    let done = false;
    await newWorker(backend, { queues: [queue] }, {
      poll: async () => {
        runs.push(Date.now());
        if (runs.length < 300) throw new RetryLaterError(0);
        done = true;
      },
    });
    await backend.enqueue(createJob({ name: 'poll', queue, payload: 'p' }));
    // On NATS a sub-millisecond reschedule used to collide with its own Nats-Msg-Id and vanish.
    await waitFor(() => done, 'the 300th run', patience * 3);
    expect(runs.length).toBe(300);
  }, 60_000);

  it('survives handlers that throw non-errors or reject with undefined', async () => {
    const queue = queueName('weird');
    const backend = await newBackend();
    const ok = deferred();
    await newWorker(backend, { queues: [queue], retry: { ...FAST_RETRY, maxAttempts: 4 } }, {
      weird: async (job) => {
        if (job.attempt === 0) throw 'a string';
        if (job.attempt === 1) throw undefined;
        if (job.attempt === 2) return Promise.reject({ not: 'an error' });
        ok.resolve();
      },
    });
    await backend.enqueue(createJob({ name: 'weird', queue, payload: 'x' }));
    await withTimeout(ok.promise, patience, 'fourth attempt');
  });
}
