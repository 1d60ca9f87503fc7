/**
 * Poison: a message no handler can run (undecodable bytes, a payload failing its job
 * definition's schema, a job name without a handler) goes to the DLQ at once, without
 * retries, and the queue keeps going.
 */
import { z } from 'zod';
import { createJob } from '../../jobs/job.js';
import { defineJob, forgetDefinition } from '../../jobs/define.js';
import { H as HEADERS } from '../../headers/index.js';
import { createWorker } from '../../worker/index.js';
import { waitFor } from '../wait.js';
import { FAST_RETRY, silent, type ConformanceContext } from './context.js';

/** Register the poison cases (inside the suite's describe). */
export function poisonCases(ctx: ConformanceContext): void {
  const { it, expect, patience, queueName, newBus, newBackend, newWorker, collect, cleanups } = ctx;

  it('dead-letters a job whose name has no handler at once', async () => {
    const queue = queueName('nohandler');
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
    const queue = queueName('poison');
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
    const queue = queueName('schema');
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
