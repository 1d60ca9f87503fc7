/**
 * What happens when the copy that settles a job cannot be published (S1, U2), when the bus
 * takes a delivery back (U4), when a handler meets a closing runtime (D4), and when header
 * bytes were not UTF-8 (poison). Faults come from a wrapping bus over the real memory bus.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError, createJob, PermanentError, PublishRejectedError, RetryLaterError, UnavailableError, type Job, type JobHandler, type Worker } from '../../src/index.js';
import { createBusDLQStore, createEventBusBridge, createRuntimeBackend, createWorker, encodeJob } from '../../src/advanced.js';
import { createMemoryEventBus, type MemoryEventBus } from '../../src/eventbus/memory/index.js';
import type { Delivery } from '../../src/eventbus/types.js';
import { faultyBus, sizeOf, type Faults } from '../support/faulty-bus.js';
import { elapse, waitFor } from '../support/wait.js';

const silent = pino({ level: 'silent' });
const RETRY = { initialBackoffMs: 10, maxBackoffMs: 20, jitter: 0, attemptTimeoutMs: 5_000, maxAttempts: 3 };

interface Stack {
  readonly memory: MemoryEventBus;
  readonly backend: ReturnType<typeof createRuntimeBackend>;
  readonly worker: Worker;
  readonly runs: Job[];
  readonly dlq: ReturnType<typeof createBusDLQStore>;
}
const stacks: Stack[] = [];
afterEach(async () => {
  for (const s of stacks.splice(0)) {
    await s.worker.stop();
    await s.backend.close();
  }
});

async function stack(faults: Faults, handler: JobHandler, backendOptions: { ackTimeoutMs?: number; settleTimeoutMs?: number; maxInFlight?: number } = {}): Promise<Stack> {
  const memory = createMemoryEventBus();
  const bus = faultyBus(memory, faults);
  const backend = createRuntimeBackend(createEventBusBridge(bus, { logger: silent }), { logger: silent, ...backendOptions });
  const runs: Job[] = [];
  const worker = createWorker(backend, { queues: ['q'], concurrency: 1, retry: RETRY }, { logger: silent });
  worker.register('j', async (job, ctx) => {
    runs.push(job);
    await handler(job, ctx);
  });
  await worker.start();
  const s = { memory, backend, worker, runs, dlq: createBusDLQStore(memory) };
  stacks.push(s);
  return s;
}

/** A broker that refuses messages larger than `limit` bytes, as Kafka's message.max.bytes or NATS max_payload. */
const sizeLimit = (limit: number): Faults => ({
  beforePublish({ topic, message }) {
    if (sizeOf(message) > limit) throw new PublishRejectedError(topic, `message of ${sizeOf(message)} bytes exceeds ${limit}`);
  },
});

describe('S1: a copy that can never be published never loops', () => {
  it('S1: a job near the broker size limit whose retry copy does not fit is dead-lettered, attempts not re-run', async () => {
    const limit = 64 * 1024;
    const payloadBytes = limit - 1_500;
    const s = await stack(sizeLimit(limit), () => {
      throw new Error('x'.repeat(3_000)); // a long reason: the retry copy would not fit
    });
    const job = createJob({ name: 'j', queue: 'q', payload: new Uint8Array(payloadBytes).fill(65) });
    expect(sizeOf(encodeJob(job))).toBeLessThanOrEqual(limit);
    await s.backend.enqueue(job);
    await waitFor(async () => (await s.dlq.listDLQ('q', 10)).length === 1, 'the job in the DLQ');
    await elapse(300);
    const [entry] = await s.dlq.listDLQ('q', 10);
    expect(entry!.job.id).toBe(job.id);
    expect(entry!.reason).toMatch(/copy refused|x{10}/);
    expect(s.runs.length).toBeLessThanOrEqual(3);
    expect(s.memory.pendingCount('q', 'jobbus')).toBe(0);
  });

  it('S1: RetryLaterError with a delay past year 9999 dead-letters the job with the reason instead of looping', async () => {
    const s = await stack({}, () => {
      throw new RetryLaterError(1e15);
    });
    await s.backend.enqueue(createJob({ name: 'j', queue: 'q', payload: 'p' }));
    await waitFor(async () => (await s.dlq.listDLQ('q', 10)).length === 1, 'the job in the DLQ');
    await elapse(300);
    expect(s.runs).toHaveLength(1);
    const [entry] = await s.dlq.listDLQ('q', 10);
    expect(entry!.reason).toMatch(/refused.*runAt/);
  });

  it('S1: a DLQ that refuses every write: the handler runs once, the publish backs off exponentially, it is counted', async () => {
    const dlqTries: number[] = [];
    const s = await stack(
      {
        beforePublish({ topic }) {
          if (topic.endsWith('.dlq')) {
            dlqTries.push(Date.now());
            throw new PublishRejectedError(topic, 'not authorized');
          }
        },
      },
      () => {
        throw new PermanentError('bad job');
      },
    );
    await s.backend.enqueue(createJob({ name: 'j', queue: 'q', payload: 'p' }));
    await waitFor(() => dlqTries.length >= 2, 'the first dead-letter try (full, then minimal copy)');
    await elapse(3_200);
    expect(s.runs).toHaveLength(1); // old code: the handler re-ran every second
    // Tries at about 0 s, 1 s and 3 s (two publishes each: full copy, minimal copy): never once a second.
    expect(dlqTries.length).toBeGreaterThanOrEqual(4);
    expect(dlqTries.length).toBeLessThanOrEqual(6);
    expect(s.backend.counters().deadLetterRefused).toBeGreaterThanOrEqual(2);
    expect(s.memory.pendingCount('q', 'jobbus')).toBe(1); // still in its queue: not lost
  });

  it('S1: a DLQ that is briefly unavailable: the job lands in the DLQ on a later try without running again', async () => {
    let failures = 2;
    const s = await stack(
      {
        beforePublish({ topic }) {
          if (topic.endsWith('.dlq') && failures-- > 0) throw new UnavailableError('broker unreachable');
        },
      },
      () => {
        throw new PermanentError('bad job');
      },
    );
    await s.backend.enqueue(createJob({ name: 'j', queue: 'q', payload: 'p' }));
    await waitFor(async () => (await s.dlq.listDLQ('q', 10)).length === 1, 'the job in the DLQ', 8_000);
    expect(s.runs).toHaveLength(1);
    expect(s.backend.counters().settleFailures).toBe(2);
  });
});

describe('S1: a DLQ copy always fits where its original fitted', () => {
  it('S1: enqueue refuses a job that leaves no room for its failure headers; one that fits is retried and dead-lettered in full', async () => {
    const limit = 16 * 1024;
    const memory = createMemoryEventBus({ maxMessageBytes: limit });
    const backend = createRuntimeBackend(createEventBusBridge(memory, { logger: silent }), { logger: silent });
    const tooBig = createJob({ name: 'j', queue: 'q', payload: new Uint8Array(limit - 600) });
    const err = await backend.enqueue(tooBig).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishRejectedError);
    expect((err as PublishRejectedError).retryable).toBe(false);
    expect((err as Error).message).toMatch(/must stay free for the headers of its retry and dead-letter copies: make the payload at most \d+ bytes/);
    const room = Number(/at most (\d+) bytes/.exec((err as Error).message)![1]);
    const runs: number[] = [];
    const worker = createWorker(backend, { queues: ['q'], retry: RETRY }, { logger: silent });
    worker.register('j', async (job) => {
      runs.push(job.attempt);
      throw new Error('é'.repeat(5_000)); // a reason far longer than any header should be
    });
    await worker.start();
    stacks.push({ memory, backend, worker, runs: [], dlq: createBusDLQStore(memory) });
    const fits = createJob({ name: 'j', queue: 'q', payload: new Uint8Array(room) });
    await backend.enqueue(fits);
    const dlq = createBusDLQStore(memory);
    await waitFor(async () => (await dlq.listDLQ('q', 10)).length === 1, 'the job in the DLQ');
    expect(runs).toEqual([0, 1, 2]);
    const [entry] = await dlq.listDLQ('q', 10);
    expect(Buffer.byteLength(entry!.reason)).toBeLessThanOrEqual(1_024);
    expect(entry!.reason).toMatch(/^attempts exhausted \(3\/3\)/);
  });
});

describe('U2: a slow settle publish never re-runs the handler', () => {
  it('U2: a retry copy published slower than the ack timeout: one run, one retry copy', async () => {
    let slow = true;
    const s = await stack(
      {
        async beforePublish({ options }) {
          if (options?.mustStore && slow) {
            slow = false;
            await elapse(2_500);
          }
        },
      },
      (job) => {
        if (job.attempt === 0) throw new Error('first attempt fails');
      },
      { ackTimeoutMs: 1_000, settleTimeoutMs: 5_000 },
    );
    await s.backend.enqueue(createJob({ name: 'j', queue: 'q', payload: 'p' }));
    await waitFor(() => s.runs.some((j) => j.attempt === 1), 'the retry ran', 8_000);
    await elapse(300);
    expect(s.runs.map((j) => j.attempt)).toEqual([0, 1]);
  });
});

describe('U4: deliveries the bus takes back', () => {
  it('U4: a buffered job whose delivery was taken back is dropped, not run by this worker', async () => {
    const controllers: AbortController[] = [];
    const memory = createMemoryEventBus();
    const bus = faultyBus(memory, {
      mapDelivery(d: Delivery): Delivery {
        const c = new AbortController();
        controllers.push(c);
        return { ...d, working: () => d.working(), signal: c.signal };
      },
    });
    const backend = createRuntimeBackend(createEventBusBridge(bus, { logger: silent }), { logger: silent });
    const a = createJob({ name: 'j', queue: 'q', payload: 'a' });
    const b = createJob({ name: 'j', queue: 'q', payload: 'b' });
    await backend.enqueueBatch([a, b]);
    const first = await backend.reserve('q', 5_000);
    await waitFor(() => backend.bufferedCount('q') === 1, 'the second job buffered');
    controllers[1]!.abort();
    expect(backend.bufferedCount('q')).toBe(0);
    await backend.ack(first!);
    // The memory bus redelivers what was handed back; a new delivery is reserved normally.
    const again = await backend.reserve('q', 5_000, { timeoutMs: 2_000 });
    expect(again?.job.id).toBe(first!.job.id === a.id ? b.id : a.id);
    await backend.ack(again!);
    await backend.close();
  });
});

describe('D4 and poison', () => {
  it('D4: a handler that meets a closing runtime (ClosedError) does not dead-letter its job', async () => {
    let closedOnce = true;
    const s = await stack({}, () => {
      if (closedOnce) {
        closedOnce = false;
        throw new ClosedError('jobs runtime is closed');
      }
    });
    await s.backend.enqueue(createJob({ name: 'j', queue: 'q', payload: 'p' }));
    await waitFor(() => s.runs.length === 2, 'the job redelivered and run again');
    expect(await s.dlq.listDLQ('q', 10)).toHaveLength(0);
    expect(s.runs.map((j) => j.attempt)).toEqual([0, 0]);
  });

  it('a message whose header bytes were not UTF-8 is poison: DLQ with a decode reason, never run', async () => {
    const s = await stack(
      { mapDelivery: (d) => ({ ...d, message: { ...d.message, invalidHeaders: ['job_id'] } }) },
      () => undefined,
    );
    await s.backend.enqueue(createJob({ name: 'j', queue: 'q', payload: 'p' }));
    await waitFor(async () => (await s.dlq.listDLQ('q', 10)).length === 1, 'the poison message in the DLQ');
    const [entry] = await s.dlq.listDLQ('q', 10);
    expect(entry!.reason).toMatch(/^decode: .*job_id.*UTF-8/);
    expect(s.runs).toHaveLength(0);
  });

  it('S1: a poison message the DLQ refuses stays in its queue and is retried with a growing delay', async () => {
    const tries: number[] = [];
    const s = await stack(
      {
        beforePublish({ topic }) {
          if (topic.endsWith('.dlq')) {
            tries.push(Date.now());
            throw new PublishRejectedError(topic, 'too large');
          }
        },
      },
      () => undefined,
    );
    await s.memory.publish('q', { value: new Uint8Array([1]), headers: { job_name: 'j' } }); // no job_id: poison
    await waitFor(() => tries.length >= 2, 'the first try');
    await elapse(2_000);
    expect(tries.length).toBeLessThanOrEqual(4); // full + minimal at ~0 s and ~1 s: not every second forever
    expect(s.runs).toHaveLength(0);
    expect(s.memory.pendingCount('q', 'jobbus')).toBe(1);
  });
});
