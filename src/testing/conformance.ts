/**
 * The jobs conformance suite: the jobs contract, written once and run against every bus
 * (memory, Kafka, NATS, a third party's). A bus passes when every behaviour here holds on it.
 * Each test uses its own queues.
 */
import pino from 'pino';
import { z } from 'zod';
import {
  createEventBusBridge,
  createJob,
  createRuntimeBackend,
  createWorker,
  decodeJob,
  defineJob,
  forgetDefinition,
  HEADERS,
  LeaseExpiredError,
  PermanentError,
  RetryLaterError,
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

const silent = pino({ level: 'silent' });

const FAST_RETRY = { maxAttempts: 3, initialBackoffMs: 30, maxBackoffMs: 120, jitter: 0, attemptTimeoutMs: 5_000 };

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

    reliabilityCases({ it, expect, patience, queueName: (p) => target.queueName(p), newBus, newBackend, newWorker, collect });

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

    it('stop drains in-flight jobs before resolving', async () => {
      const queue = target.queueName('drain');
      const bus = await newBus();
      const backend = await newBackend(bus);
      const started = deferred();
      let finished = false;
      const worker = await newWorker(backend, { queues: [queue] }, {
        work: async () => {
          started.resolve();
          await elapse(300);
          finished = true;
        },
      });
      await backend.enqueue(createJob({ name: 'work', queue, payload: 'x' }));
      await withTimeout(started.promise, patience, 'job start');
      await worker.stop();
      expect(finished).toBe(true);
      // It was acked: a new worker on the same backend sees nothing.
      let again = 0;
      await newWorker(backend, { queues: [queue] }, { work: async () => void again++ });
      await elapse(500);
      expect(again).toBe(0);
    });

    it('stop aborts jobs still running after stopTimeout and releases them for redelivery', async () => {
      const queue = target.queueName('stoptimeout');
      const backend = await newBackend();
      const started = deferred();
      let sawAbort = false;
      const worker = await newWorker(backend, { queues: [queue], stopTimeoutMs: 200 }, {
        stuck: async (_job, ctx) => {
          started.resolve();
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
          sawAbort = true;
          throw new Error('aborted');
        },
      });
      const job = createJob({ name: 'stuck', queue, payload: 'x' });
      await backend.enqueue(job);
      await withTimeout(started.promise, patience, 'job start');
      await worker.stop();
      expect(sawAbort).toBe(true);
      const redelivered = deferred<Job>();
      await newWorker(backend, { queues: [queue] }, { stuck: async (j) => redelivered.resolve(j) });
      const j = await withTimeout(redelivered.promise, patience, 'redelivery');
      expect(j.id).toBe(job.id);
      expect(j.attempt).toBe(0); // released, not failed
    });

    it('a stopped worker hands its prefetched jobs back to the group at once', async () => {
      const queue = target.queueName('handback');
      const bus = await newBus();
      const a = await newBackend(bus, 'workers', 16);
      const first = deferred();
      const ranOnA: string[] = [];
      const workerA = await newWorker(a, { queues: [queue], concurrency: 1 }, {
        h: async (job) => {
          ranOnA.push(job.id);
          first.resolve();
          await elapse(100);
        },
      });
      const jobs = Array.from({ length: 5 }, (_, i) => createJob({ name: 'h', queue, payload: { i } }));
      await a.enqueueBatch(jobs);
      await withTimeout(first.promise, patience, 'the first job on worker a');
      await workerA.stop(); // backend a stays open
      const ranOnB = new Set<string>();
      const b = await newBackend(bus, 'workers', 16);
      await newWorker(b, { queues: [queue], concurrency: 4 }, { h: async (job) => void ranOnB.add(job.id) });
      await waitFor(() => ranOnA.length + ranOnB.size >= 5, 'every job on a or b', patience * 2);
      expect(new Set([...ranOnA, ...ranOnB])).toEqual(new Set(jobs.map((j) => j.id)));
    });

    it('close releases outstanding leases and prefetched jobs so another consumer gets them', async () => {
      const queue = target.queueName('close');
      const bus = await newBus();
      const a = await newBackend(bus);
      const jobs = Array.from({ length: 5 }, (_, i) => createJob({ name: 'c', queue, payload: { i } }));
      await a.enqueueBatch(jobs);
      const lease = await waitFor(() => a.reserve(queue, 30_000, { timeoutMs: 200 }), 'reserve on a', patience);
      await waitFor(() => a.bufferedCount(queue) === 4, 'the other four prefetched by a', patience);
      await a.close();
      const b = await newBackend(bus);
      const seen = new Set<string>();
      await waitFor(
        async () => {
          const l = await b.reserve(queue, 5_000, { timeoutMs: 200 });
          if (l) {
            seen.add(l.job.id);
            await b.ack(l);
          }
          return seen.size === 5;
        },
        'all five on b',
        patience,
      );
      expect(seen.has(lease.job.id)).toBe(true);
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

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
