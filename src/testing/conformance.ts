/**
 * The jobs conformance suite: the jobs contract, written once and run against every bus
 * (memory, Kafka, NATS, a third party's). A bus passes when every behaviour here holds on it.
 * Each test uses its own queues.
 */
import {
  createEventBusBridge,
  createJob,
  createRuntimeBackend,
  createWorker,
  HEADERS,
  LeaseExpiredError,
  type EventBus,
  type Job,
  type JobHandler,
  type Message,
  type RuntimeBackend,
  type Worker,
  type WorkerConfigInput,
} from '../index.js';
import { deferred, elapse, waitFor } from './wait.js';
import { encodeJob } from '../headers/codec.js';
import { reliabilityCases } from './conformance-reliability.js';
import { lifecycleCases } from './conformance-lifecycle.js';
import { failureCases } from './conformance-failures.js';
import { FAST_RETRY, silent, withTimeout } from './conformance-context.js';

/** A value under test, as the test framework's `expect` returns it (the matchers the suite uses). */
export interface ConformanceMatchers {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toMatch(expected: RegExp | string): void;
  toMatchObject(expected: object): void;
  toBeInstanceOf(expected: abstract new (...args: never[]) => unknown): void;
  toBeGreaterThan(n: number): void;
  toBeGreaterThanOrEqual(n: number): void;
  toBeLessThan(n: number): void;
  toHaveLength(n: number): void;
  toBeUndefined(): void;
  readonly rejects: {
    toBeInstanceOf(expected: abstract new (...args: never[]) => unknown): Promise<void>;
    toMatchObject(expected: object): Promise<void>;
  };
}

/** The test framework functions the suite needs (vitest's and jest's fit). */
export interface ConformanceTestApi {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>, timeoutMs?: number): void;
  afterEach(body: () => Promise<void>): void;
  expect(value: unknown): ConformanceMatchers;
}

/** What a bus under test provides. */
export interface ConformanceTarget {
  /** Shown in test names. */
  readonly name: string;
  /** A new bus; the suite closes it. */
  createBus(): Promise<EventBus>;
  /** A queue name unique to one test. */
  queueName(prefix: string): string;
  /** How long to wait for things that should happen "soon", ms. Default 10 000. */
  readonly patienceMs?: number;
}



/**
 * Run the jobs conformance suite against `target`: a third-party bus proves itself with
 * `runConformance(target, { describe, it, afterEach, expect })` from its test framework.
 */
export function runConformance(target: ConformanceTarget, api: ConformanceTestApi): void {
  const { describe, it, afterEach, expect } = api;
  const patience = target.patienceMs ?? 10_000;

  describe(`jobs contract on ${target.name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];

    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    });

    async function newBus(): Promise<EventBus> {
      const bus = await target.createBus();
      cleanups.push(() => bus.close());
      return bus;
    }

    async function newBackend(bus?: EventBus, group = 'workers', maxInFlight = 64): Promise<RuntimeBackend> {
      const b = bus ?? (await newBus());
      const bridge = createEventBusBridge(b, { logger: silent, ownsBus: false });
      const backend = createRuntimeBackend(bridge, { group, maxInFlight, ackTimeoutMs: 30_000 });
      cleanups.push(() => backend.close());
      return backend;
    }

    async function newWorker(backend: RuntimeBackend, config: WorkerConfigInput, handlers: Record<string, JobHandler>): Promise<Worker> {
      const worker = createWorker(
        backend,
        { reserveTimeoutMs: 100, stopTimeoutMs: 2_000, leaseTtlMs: 10_000, retry: FAST_RETRY, ...config },
        { logger: silent },
      );
      for (const [name, h] of Object.entries(handlers)) worker.register(name, h);
      await worker.start();
      cleanups.push(() => worker.stop().catch(() => undefined));
      return worker;
    }

    /** Collect everything published to `topic` (e.g. a DLQ) through a separate consumer group. */
    async function collect(bus: EventBus, topic: string): Promise<Message[]> {
      const seen: Message[] = [];
      const sub = await bus.subscribe(topic, async (d) => void seen.push(d.message), { group: `reader-${topic}` });
      cleanups.push(() => sub.close());
      return seen;
    }

    const context = { it, expect, patience, queueName: (p: string) => target.queueName(p), newBus, newBackend, newWorker, collect, cleanups };
    reliabilityCases(context);
    lifecycleCases(context);
    failureCases(context);

    it('processes an enqueued job with its payload, headers and metadata intact', async () => {
      const queue = target.queueName('basic');
      const backend = await newBackend();
      const got = deferred<Job>();
      await newWorker(backend, { queues: [queue] }, { hello: async (job) => got.resolve(job) });
      const job = createJob({
        name: 'hello',
        queue,
        payload: { greeting: 'héllo wörld ✓' },
        headers: { 'x-trace': 'abc', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
        tenantId: 'acme',
        correlationId: 'corr-1',
        idempotencyKey: 'idem-1',
      });
      await backend.enqueue(job);
      const received = await withTimeout(got.promise, patience, 'job delivery');
      expect(received.id).toBe(job.id);
      expect(received.name).toBe('hello');
      expect(received.queue).toBe(queue);
      expect(JSON.parse(new TextDecoder().decode(received.payload))).toEqual({ greeting: 'héllo wörld ✓' });
      expect(received.headers['x-trace']).toBe('abc');
      expect(received.headers.traceparent).toBe(job.headers.traceparent);
      expect(received.tenantId).toBe('acme');
      expect(received.correlationId).toBe('corr-1');
      expect(received.idempotencyKey).toBe('idem-1');
      expect(received.attempt).toBe(0);
      expect(received.createdAt.getTime()).toBe(job.createdAt.getTime());
    });

    it('publishes a batch with enqueueBatch and runs every job once', async () => {
      const queue = target.queueName('batch');
      const backend = await newBackend();
      const seen = new Map<string, number>();
      await newWorker(backend, { queues: [queue], concurrency: 8 }, {
        b: async (job) => void seen.set(job.id, (seen.get(job.id) ?? 0) + 1),
      });
      const jobs = Array.from({ length: 50 }, (_, i) => createJob({ name: 'b', queue, payload: { i } }));
      await backend.enqueueBatch(jobs);
      await waitFor(() => seen.size === 50, 'all 50 jobs', patience);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
    });

    it('runs `concurrency` handlers at the same time', async () => {
      const queue = target.queueName('conc');
      const backend = await newBackend();
      let running = 0;
      let peak = 0;
      const release = deferred();
      await newWorker(backend, { queues: [queue], concurrency: 4 }, {
        c: async () => {
          running++;
          peak = Math.max(peak, running);
          await release.promise;
          running--;
        },
      });
      await backend.enqueueBatch(Array.from({ length: 6 }, (_, i) => createJob({ name: 'c', queue, payload: { i } })));
      await waitFor(() => running === 4, '4 handlers running at once', patience);
      await elapse(100);
      expect(peak).toBe(4); // never more than the concurrency
      release.resolve();
      await waitFor(() => running === 0 && peak === 4, 'handlers to finish', patience);
    });

    it('never runs a delayed job before its runAt', async () => {
      const queue = target.queueName('delay');
      const backend = await newBackend();
      const started = new Map<string, number>();
      await newWorker(backend, { queues: [queue], concurrency: 4 }, {
        d: async (job) => void started.set(job.id, Date.now()),
      });
      const now = Date.now();
      const jobs = [600, 1_200, 1_800].map((ms) => createJob({ name: 'd', queue, payload: 'x', runAt: new Date(now + ms) }));
      const immediate = createJob({ name: 'd', queue, payload: 'now' });
      for (const j of jobs) await backend.enqueue(j);
      await backend.enqueue(immediate);
      await waitFor(() => started.size === 4, 'all delayed jobs', patience + 2_000);
      for (const j of jobs) expect(started.get(j.id)!).toBeGreaterThanOrEqual(j.runAt.getTime());
      expect(started.get(immediate.id)!).toBeLessThan(jobs[0]!.runAt.getTime());
    });

    it('holds back a job published with a future job_run_at but no delay (foreign producer)', async () => {
      const queue = target.queueName('foreign');
      const bus = await newBus();
      const backend = await newBackend(bus);
      const got = deferred<number>();
      await newWorker(backend, { queues: [queue] }, { f: async () => got.resolve(Date.now()) });
      const runAt = new Date(Date.now() + 800);
      const job = createJob({ name: 'f', queue, payload: 'x', runAt });
      await bus.publish(queue, encodeJob(job)); // no deliverAt: arrives at once
      const at = await withTimeout(got.promise, patience, 'the early job');
      expect(at).toBeGreaterThanOrEqual(runAt.getTime());
    });

    it('nack publishes the retry copy with attempt + 1, its runAt and the failure reason', async () => {
      const queue = target.queueName('nack');
      const backend = await newBackend();
      await backend.enqueue(createJob({ name: 'n', queue, payload: 'x', headers: { keep: 'me' } }));
      const first = await waitFor(() => backend.reserve(queue, 5_000, { timeoutMs: 200 }), 'first reserve', patience);
      const runAt = new Date(Date.now() + 300);
      await backend.nack(first, runAt, 'transient failure');
      const second = await waitFor(() => backend.reserve(queue, 5_000, { timeoutMs: 200 }), 'retry copy', patience);
      expect(Date.now()).toBeGreaterThanOrEqual(runAt.getTime());
      expect(second.job.id).toBe(first.job.id);
      expect(second.job.attempt).toBe(1);
      expect(second.job.runAt.getTime()).toBe(runAt.getTime());
      expect(second.job.headers[HEADERS.failureReason]).toBe('transient failure');
      expect(second.job.headers.keep).toBe('me');
      await backend.ack(second);
      await expect(backend.ack(first)).rejects.toBeInstanceOf(LeaseExpiredError);
    });

    it('redelivers a job whose lease expired and refuses the late ack', async () => {
      const queue = target.queueName('lease');
      const backend = await newBackend();
      await backend.enqueue(createJob({ name: 'l', queue, payload: 'x' }));
      const first = await waitFor(() => backend.reserve(queue, 300, { timeoutMs: 200 }), 'first reserve', patience);
      const again = await waitFor(() => backend.reserve(queue, 5_000, { timeoutMs: 200 }), 'redelivery', patience);
      expect(again.job.id).toBe(first.job.id);
      expect(again.deliveryCount).toBeGreaterThan(first.deliveryCount);
      const late = backend.ack(first);
      await expect(late).rejects.toBeInstanceOf(LeaseExpiredError);
      await expect(late).rejects.toMatchObject({ code: 'LEASE_EXPIRED', retryable: false });
      await backend.ack(again);
    });

    it('renew extends a lease past its first expiry', async () => {
      const queue = target.queueName('renew');
      const backend = await newBackend();
      await backend.enqueue(createJob({ name: 'r', queue, payload: 'x' }));
      let lease = await waitFor(() => backend.reserve(queue, 400, { timeoutMs: 200 }), 'reserve', patience);
      const until = Date.now() + 1_200;
      while (Date.now() < until) {
        lease = await backend.renew(lease, 400);
        await elapse(100);
      }
      expect(await backend.reserve(queue, 400, { timeoutMs: 50 })).toBeUndefined();
      await backend.ack(lease);
    });

    it('aborts a timed-out attempt through its signal, counts it as failed, and never overlaps the retry', async () => {
      const queue = target.queueName('timeout');
      const backend = await newBackend();
      let running = 0;
      let overlap = false;
      const aborted: unknown[] = [];
      const done = deferred();
      await newWorker(backend, { queues: [queue], concurrency: 4, retry: { ...FAST_RETRY, attemptTimeoutMs: 200 } }, {
        slow: async (job, ctx) => {
          running++;
          if (running > 1) overlap = true;
          try {
            if (job.attempt === 0) {
              await new Promise<void>((resolve) =>
                ctx.signal.addEventListener('abort', () => {
                  aborted.push(ctx.signal.reason);
                  setTimeout(resolve, 150); // keeps running a little after the abort
                }),
              );
              return;
            }
            done.resolve();
          } finally {
            running--;
          }
        },
      });
      await backend.enqueue(createJob({ name: 'slow', queue, payload: 'x' }));
      await withTimeout(done.promise, patience, 'the retry');
      expect(aborted).toHaveLength(1);
      expect(aborted[0]).toMatchObject({ code: 'TIMEOUT' });
      expect(overlap).toBe(false);
    });

    it('survives handlers that throw non-errors or reject with undefined', async () => {
      const queue = target.queueName('weird');
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

    it('shares a queue between competing workers of one group and delivers to every group', async () => {
      const queue = target.queueName('groups');
      const bus = await newBus();
      const a = await newBackend(bus, 'g1');
      const b = await newBackend(bus, 'g1');
      const other = await newBackend(bus, 'g2');
      const g1 = new Map<string, number>();
      const g2 = new Set<string>();
      const count = (job: Job): void => void g1.set(job.id, (g1.get(job.id) ?? 0) + 1);
      await newWorker(a, { queues: [queue] }, { g: async (j) => count(j) });
      await newWorker(b, { queues: [queue] }, { g: async (j) => count(j) });
      await newWorker(other, { queues: [queue] }, { g: async (j) => void g2.add(j.id) });
      await a.enqueueBatch(Array.from({ length: 40 }, (_, i) => createJob({ name: 'g', queue, payload: { i } })));
      await waitFor(() => g1.size === 40 && g2.size === 40, 'both groups to see all jobs', patience);
      await elapse(200);
      expect([...g1.values()].every((n) => n === 1)).toBe(true);
    });

    it('puts off jobs over a job-name concurrency limit without losing them or spending attempts', async () => {
      const queue = target.queueName('limit');
      const backend = await newBackend();
      let running = 0;
      let peak = 0;
      const attempts: number[] = [];
      await newWorker(backend, { queues: [queue], concurrency: 6, limits: { lim: { concurrency: 2 } }, retry: { ...FAST_RETRY, maxAttempts: 1 } }, {
        lim: async (job) => {
          peak = Math.max(peak, ++running);
          attempts.push(job.attempt);
          await elapse(30);
          running--;
        },
      });
      await backend.enqueueBatch(Array.from({ length: 8 }, (_, i) => createJob({ name: 'lim', queue, payload: { i } })));
      await waitFor(() => attempts.length === 8, 'all 8 jobs', patience * 2);
      expect(peak).toBeLessThan(3);
      expect(attempts.every((a) => a === 0)).toBe(true);
    });

    it('runs jobs with equal partition keys one at a time, in order', async () => {
      const queue = target.queueName('order');
      const backend = await newBackend();
      const order: Record<string, number[]> = { a: [], b: [] };
      const active = new Set<string>();
      let sameKeyOverlap = false;
      await newWorker(backend, { queues: [queue], concurrency: 8 }, {
        o: async (job) => {
          const { key, i } = JSON.parse(new TextDecoder().decode(job.payload)) as { key: string; i: number };
          if (active.has(key)) sameKeyOverlap = true;
          active.add(key);
          await elapse(5);
          order[key]!.push(i);
          active.delete(key);
        },
      });
      const jobs = Array.from({ length: 20 }, (_, i) => {
        const key = i % 2 === 0 ? 'a' : 'b';
        return createJob({ name: 'o', queue, payload: { key, i }, partitionKey: key });
      });
      await backend.enqueueBatch(jobs);
      await waitFor(() => order.a!.length + order.b!.length === 20, 'all ordered jobs', patience);
      expect(sameKeyOverlap).toBe(false);
      expect(order.a).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
      expect(order.b).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    });
  });
}
