/**
 * Failure cases of the jobs conformance suite: retries with backoff, the DLQ (exhausted
 * attempts, PermanentError, no handler, poison messages, schema failures), RetryLaterError.
 */
import { z } from 'zod';
import { createJob, createWorker, decodeJob, defineJob, forgetDefinition, HEADERS, PermanentError, RetryLaterError } from '../index.js';
import { FAST_RETRY, silent, withTimeout, type ConformanceContext } from './conformance-context.js';
import { deferred, elapse, waitFor } from './wait.js';

/** Register the failure cases (inside the suite's describe). */
export function failureCases(ctx: ConformanceContext): void {
  const { it, expect, patience, newBus, newBackend, newWorker, collect, cleanups } = ctx;
  const target = { queueName: (p: string) => ctx.queueName(p) };

  it('retries a failing job with backoff until it succeeds', async () => {
    const queue = target.queueName('retry');
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

  it('moves a job that exhausts its attempts to the DLQ with the failure headers', async () => {
    const queue = target.queueName('exhaust');
    const bus = await newBus();
    const backend = await newBackend(bus);
    const dlq = await collect(bus, `${queue}.dlq`);
    let calls = 0;
    await newWorker(backend, { queues: [queue] }, {
      doomed: async () => {
        calls++;
        throw new Error('always fails');
      },
    });
    const job = createJob({ name: 'doomed', queue, payload: 'x', maxAttempts: 3 });
    await backend.enqueue(job);
    await waitFor(() => dlq.length === 1, 'the DLQ entry', patience);
    const entry = dlq[0]!;
    expect(calls).toBe(3);
    expect(entry.headers[HEADERS.id]).toBe(job.id);
    expect(entry.headers[HEADERS.originalQueue]).toBe(queue);
    expect(entry.headers[HEADERS.failureReason]).toMatch(/always fails/);
    expect(entry.headers[HEADERS.failureReason]).toMatch(/3\/3/);
    expect(Number.isNaN(Date.parse(entry.headers[HEADERS.failedAt]!))).toBe(false);
    expect(decodeJob(entry, queue).attempt).toBe(2);
    await elapse(200);
    expect(calls).toBe(3); // no further attempts after dead-lettering
  });

  it('sends a PermanentError straight to the DLQ without retrying', async () => {
    const queue = target.queueName('perm');
    const bus = await newBus();
    const backend = await newBackend(bus);
    const dlq = await collect(bus, `${queue}.dlq`);
    let calls = 0;
    await newWorker(backend, { queues: [queue] }, {
      p: async () => {
        calls++;
        throw new PermanentError('bad customer id');
      },
    });
    await backend.enqueue(createJob({ name: 'p', queue, payload: 'x' }));
    await waitFor(() => dlq.length === 1, 'the DLQ entry', patience);
    expect(calls).toBe(1);
    expect(dlq[0]!.headers[HEADERS.failureReason]).toMatch(/PERMANENT.*bad customer id/);
  });

  it('reschedules a RetryLaterError without spending an attempt', async () => {
    const queue = target.queueName('later');
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

  it('dead-letters a job whose name has no handler at once', async () => {
    const queue = target.queueName('nohandler');
    const bus = await newBus();
    const backend = await newBackend(bus);
    const dlq = await collect(bus, `${queue}.dlq`);
    await newWorker(backend, { queues: [queue] }, { known: async () => undefined });
    await backend.enqueue(createJob({ name: 'unknown-job', queue, payload: 'x' }));
    await waitFor(() => dlq.length === 1, 'the DLQ entry', patience);
    expect(dlq[0]!.headers[HEADERS.failureReason]).toMatch(/no handler registered for job name "unknown-job"/);
    expect(dlq[0]!.headers[HEADERS.attempt]).toBe('0');
  });

  it('moves a poison message to the DLQ with its bytes and headers and keeps going', async () => {
    const queue = target.queueName('poison');
    const bus = await newBus();
    const backend = await newBackend(bus);
    const dlq = await collect(bus, `${queue}.dlq`);
    const good: string[] = [];
    await newWorker(backend, { queues: [queue] }, { ok: async (job) => void good.push(job.id) });
    const before = createJob({ name: 'ok', queue, payload: 'a' });
    await backend.enqueue(before);
    const garbage = new Uint8Array([0xff, 0xfe, 0x00, 0x80]);
    await bus.publish(queue, { key: 'k', value: garbage, headers: { job_name: 'ok', job_attempt: 'many', other: 'v' } });
    await bus.publish(queue, { value: new Uint8Array([1]), headers: {} });
    const after = createJob({ name: 'ok', queue, payload: 'b' });
    await backend.enqueue(after);
    await waitFor(() => dlq.length === 2 && good.length === 2, 'two DLQ entries and two good jobs', patience);
    expect(good.sort()).toEqual([before.id, after.id].sort());
    const withHeaders = dlq.find((m) => m.headers.other === 'v')!;
    expect([...withHeaders.value]).toEqual([...garbage]);
    expect(withHeaders.headers.job_attempt).toBe('many');
    expect(withHeaders.headers[HEADERS.failureReason]).toMatch(/^decode: .*job_id/);
    expect(withHeaders.headers[HEADERS.originalQueue]).toBe(queue);
  });

  it('dead-letters a consumed payload that fails its job definition\'s schema, without retries', async () => {
    const queue = target.queueName('schema');
    const bus = await newBus();
    const backend = await newBackend(bus);
    const dlq = await collect(bus, `${queue}.dlq`);
    const name = `typed-${queue}`;
    let calls = 0;
    const def = defineJob({ name, queue, schema: z.object({ n: z.number() }), handler: () => void calls++ });
    cleanups.push(async () => void forgetDefinition(name));
    const worker = createWorker(backend, { queues: [queue], reserveTimeoutMs: 100, retry: FAST_RETRY }, { logger: silent });
    worker.register(def);
    await worker.start();
    cleanups.push(() => worker.stop());
    await backend.enqueue(createJob({ name, queue, payload: { n: 'three' } })); // another service's bad payload
    await backend.enqueue(createJob({ name, queue, payload: { n: 3 } }));
    await waitFor(() => dlq.length === 1 && calls === 1, 'one DLQ entry and one good run', patience);
    expect(dlq[0]!.headers[HEADERS.failureReason]).toMatch(/^schema: .*n: /);
    expect(dlq[0]!.headers[HEADERS.attempt]).toBe('0');
  });
}
