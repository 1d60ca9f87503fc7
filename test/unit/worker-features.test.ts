import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import pino from 'pino';
import { z } from 'zod';
import { createJob, currentJob, defineJob, PermanentError, RetryLaterError, SchemaError, ValidationError, type Job, type JobContext } from '../../src/index.js';
import type { WorkerConfigInput } from '../../src/jobs/config.js';
import { backendHealthChecker, createWorker, definitions, forgetDefinition, HEADERS, runtimeHealthChecker, encodeJob } from '../../src/advanced.js';
import { createTestJobbus, type TestJobbus } from '../../src/testing/index.js';
import { deferred, elapse, waitFor } from '../support/wait.js';

const FAST = { initialBackoffMs: 10, maxBackoffMs: 50, jitter: 0, attemptTimeoutMs: 2_000, maxAttempts: 3 };
let t: TestJobbus | undefined;
const defined: string[] = [];

afterEach(async () => {
  await t?.close();
  t = undefined;
  for (const n of defined.splice(0)) forgetDefinition(n);
});

function define<S extends z.ZodType>(input: Parameters<typeof defineJob<S>>[0]) {
  defined.push(input.name);
  return defineJob(input);
}

const text = (job: Job): string => new TextDecoder().decode(job.payload);

describe('typed jobs with zod', () => {
  it('types the payload from the schema into enqueue and the handler, and validates both ways', async () => {
    const seen: { to: string; count: number }[] = [];
    const welcome = define({
      name: 'welcome',
      queue: 'mail',
      schema: z.object({ to: z.email(), count: z.number().int().default(1) }),
      handler: async (payload, ctx) => {
        expectTypeOf(payload).toEqualTypeOf<{ to: string; count: number }>();
        expectTypeOf(ctx).toEqualTypeOf<JobContext>();
        seen.push(payload);
      },
    });
    t = await createTestJobbus({ queues: ['mail'], retry: FAST }, { definitions: [welcome] });
    const job = await t.client.enqueue(welcome, { to: 'ada@example.com' });
    expect(job).toMatchObject({ name: 'welcome', queue: 'mail', attempt: 0 });
    await t.drain();
    expect(seen).toEqual([{ to: 'ada@example.com', count: 1 }]);
    expect(definitions().map((d) => d.name)).toContain('welcome');
  });

  it('refuses an invalid payload on enqueue with the zod issues and publishes nothing', async () => {
    const def = define({ name: 'strict', queue: 'q', schema: z.object({ n: z.number().min(10), s: z.string() }), handler: () => undefined });
    t = await createTestJobbus({ queues: ['q'] }, { definitions: [def] });
    const err = await t.client.enqueue(def, { n: 3, s: 7 as unknown as string }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaError);
    const s = err as SchemaError;
    expect(s.code).toBe('SCHEMA');
    expect(s.issues.map((i) => i.path).sort()).toEqual(['n', 's']);
    expect(s.message).toMatch(/"strict"/);
    expect(t.pendingCount('q')).toBe(0);
    await expect(t.client.enqueueBulk(def, [{ payload: { n: 11, s: 'ok' } }, { payload: { n: 1, s: 'x' } }])).rejects.toThrow(/item 1/);
    expect(t.pendingCount('q')).toBe(0);
  });

  it('dead-letters a consumed payload that fails the schema at once, with reason schema, without retries', async () => {
    let calls = 0;
    const def = define({
      name: 'typed',
      queue: 'q',
      schema: z.object({ id: z.number() }),
      maxAttempts: 5,
      handler: () => void calls++,
    });
    t = await createTestJobbus({ queues: ['q'], retry: FAST }, { definitions: [def] });
    // Another service enqueues a wrong payload, bypassing our validation.
    await t.backend.enqueue(createJob({ name: 'typed', queue: 'q', payload: { id: 'not-a-number' } }));
    await t.backend.enqueue(createJob({ name: 'typed', queue: 'q', payload: 'not json {' }));
    await t.drain();
    const dead = await t.deadLetters('q');
    expect(dead).toHaveLength(2);
    for (const d of dead) {
      expect(d.reason).toMatch(/^schema: /);
      expect(d.job.attempt).toBe(0);
    }
    expect(dead.map((d) => d.reason).join('\n')).toMatch(/id: Invalid input: expected number/);
    expect(calls).toBe(0);
  });

  it('rejects a second definition with the same name', () => {
    define({ name: 'dup', queue: 'q', schema: z.string(), handler: () => undefined });
    expect(() => defineJob({ name: 'dup', queue: 'q', schema: z.string(), handler: () => undefined })).toThrow(/already defined/);
  });
});

describe('enqueue API', () => {
  it('enqueueAt / enqueueIn delay the job and return its record; enqueueBulk publishes one batch', async () => {
    const def = define({ name: 'e', queue: 'q', schema: z.object({ i: z.number() }), handler: () => undefined });
    t = await createTestJobbus({ queues: ['q'] }, { definitions: [def], autoStart: false });
    let batches = 0;
    const original = t.bus.publishBatch.bind(t.bus);
    t.bus.publishBatch = async (...args) => {
      batches++;
      return original(...args);
    };
    const at = new Date(Date.now() + 60_000);
    const a = await t.client.enqueueAt(def, { i: 1 }, at, { tenantId: 'acme', correlationId: 'c', idempotencyKey: 'k', headers: { h: 'v' } });
    expect(a.runAt).toEqual(at);
    expect(a).toMatchObject({ tenantId: 'acme', correlationId: 'c', idempotencyKey: 'k', headers: { h: 'v' } });
    const b = await t.client.enqueueIn(def, { i: 2 }, 30_000, { id: 'fixed-id', partitionKey: 'p', maxAttempts: 9 });
    expect(b.id).toBe('fixed-id');
    expect(b.maxAttempts).toBe(9);
    expect(b.runAt.getTime()).toBeGreaterThan(Date.now() + 29_000);
    expect(t.bus.delayedCount('q')).toBe(2);
    const bulk = await t.client.enqueueBulk(def, [{ payload: { i: 3 } }, { payload: { i: 4 } }, { payload: { i: 5 } }]);
    expect(bulk).toHaveLength(3);
    expect(batches).toBe(1);
    expect(t.pendingCount('q')).toBe(5);
  });
});

describe('retry control', () => {
  it('uses a definition\'s fixed backoff and a worker-wide custom backoff function', async () => {
    const times: Record<string, number[]> = { fixed: [], custom: [] };
    const fixed = define({
      name: 'fixed',
      queue: 'q',
      schema: z.null(),
      backoff: { type: 'fixed', delayMs: 120 },
      handler: () => {
        times.fixed!.push(Date.now());
        if (times.fixed!.length < 3) throw new Error('x');
      },
    });
    const errors: unknown[] = [];
    t = await createTestJobbus(
      { queues: ['q'], concurrency: 2, retry: FAST },
      {
        definitions: [fixed],
        handlers: {
          custom: () => {
            times.custom!.push(Date.now());
            if (times.custom!.length < 3) throw new Error(`custom ${times.custom!.length}`);
          },
        },
        backoff: (attempt, error) => {
          errors.push(error);
          return 60 * (attempt + 1);
        },
      },
    );
    await t.client.enqueue(fixed, null);
    await t.backend.enqueue(createJob({ name: 'custom', queue: 'q', payload: 'x' }));
    await t.drain();
    const gaps = (xs: number[]) => xs.slice(1).map((x, i) => x - xs[i]!);
    for (const g of gaps(times.fixed!)) expect(g).toBeGreaterThanOrEqual(115);
    const [g1, g2] = gaps(times.custom!);
    expect(g1).toBeGreaterThanOrEqual(55);
    expect(g2).toBeGreaterThanOrEqual(115);
    expect(errors.map(String)).toEqual(['Error: custom 1', 'Error: custom 2']); // the fixed job did not use it
  });

  it('counts a timeout as a failed, retryable attempt', async () => {
    const attempts: number[] = [];
    t = await createTestJobbus(
      { queues: ['q'], retry: { ...FAST, attemptTimeoutMs: 100 } },
      {
        handlers: {
          slow: async (job, ctx) => {
            attempts.push(job.attempt);
            if (job.attempt === 0) await new Promise((r) => ctx.signal.addEventListener('abort', r));
          },
        },
      },
    );
    await t.backend.enqueue(createJob({ name: 'slow', queue: 'q', payload: 'x' }));
    await t.drain();
    expect(attempts).toEqual([0, 1]);
  });

  it('stops renewing a timed-out attempt: a handler ignoring its abort loses the job, which is redelivered; its late ack is refused', async () => {
    const stuck = deferred<void>();
    const runs: { attempt: number; at: number }[] = [];
    const errors: unknown[] = [];
    const completed: string[] = [];
    t = await createTestJobbus(
      { queues: ['q'], concurrency: 2, leaseTtlMs: 300, retry: { ...FAST, attemptTimeoutMs: 100 } },
      {
        hooks: { onError: (err) => void errors.push(err), onCompleted: (job) => void completed.push(job.id) },
        handlers: {
          stuck: async (job) => {
            runs.push({ attempt: job.attempt, at: Date.now() });
            if (runs.length === 1) await stuck.promise; // ignores its signal
          },
        },
      },
    );
    const job = createJob({ name: 'stuck', queue: 'q', payload: 'x' });
    await t.backend.enqueue(job);
    // Timed out at 100 ms, lease (300 ms) not renewed after that: redelivered while still running.
    await waitFor(() => runs.length === 2, "the redelivery", 3_000);
    expect(runs[1]!.at - runs[0]!.at).toBeGreaterThanOrEqual(250);
    await waitFor(() => completed.length === 1, "the rerun acked", 3_000);
    stuck.resolve();
    await waitFor(() => errors.length === 1, "the stale settle refused", 3_000);
    expect(errors[0]).toMatchObject({ code: 'LEASE_EXPIRED' });
    await t.drain();
    expect(completed).toEqual([job.id]);
    expect(await t.deadLetters('q')).toHaveLength(0);
  });
});

describe('scheduling inside one worker', () => {
  it('serves higher-priority queues first without starving lower ones', async () => {
    const order: string[] = [];
    t = await createTestJobbus(
      { queues: [{ name: 'low', priority: 0 }, { name: 'high', priority: 10 }], concurrency: 1, fairnessLimit: 3 },
      { handlers: { j: (job) => void order.push(job.queue) }, autoStart: false },
    );
    await t.backend.enqueueBatch(Array.from({ length: 8 }, () => createJob({ name: 'j', queue: 'low', payload: 'l' })));
    await t.backend.enqueueBatch(Array.from({ length: 8 }, () => createJob({ name: 'j', queue: 'high', payload: 'h' })));
    // Both queues' jobs are buffered locally before the first pick.
    await t.backend.reserve(['low', 'high'], 1, { timeoutMs: 0 }).then((l) => l && t!.backend.release(l));
    await waitFor(() => t!.backend.bufferedCount('low') === 8 && t!.backend.bufferedCount('high') === 8, 'buffered jobs');
    for (let i = 0; i < 16; i++) await t.processOne(1_000);
    expect(order.slice(0, 3)).toEqual(['high', 'high', 'high']);
    expect(order.slice(0, 4)).toContain('low'); // passed over 3 times, then served
    expect(order.filter((q) => q === 'high').length).toBe(8);
    const firstLows = order.slice(0, 12).filter((q) => q === 'low').length;
    expect(firstLows).toBeGreaterThanOrEqual(2);
  });

  it('caps concurrency per queue and per job name', async () => {
    let a = 0;
    let aPeak = 0;
    let b = 0;
    let bPeak = 0;
    const gate = deferred();
    t = await createTestJobbus(
      { queues: [{ name: 'qa', concurrency: 2 }, 'qb'], concurrency: 10, limits: { nb: { concurrency: 3 } }, retry: FAST },
      {
        handlers: {
          na: async () => {
            aPeak = Math.max(aPeak, ++a);
            await gate.promise;
            a--;
          },
          nb: async () => {
            bPeak = Math.max(bPeak, ++b);
            await gate.promise;
            b--;
          },
        },
      },
    );
    await t.backend.enqueueBatch(Array.from({ length: 6 }, () => createJob({ name: 'na', queue: 'qa', payload: 'x' })));
    await t.backend.enqueueBatch(Array.from({ length: 6 }, () => createJob({ name: 'nb', queue: 'qb', payload: 'x' })));
    await waitFor(() => a === 2 && b === 3, 'both caps reached');
    await elapse(300);
    expect(aPeak).toBe(2);
    expect(bPeak).toBe(3);
    gate.resolve();
    await t.drain();
  });

  it('rate-limits a job name without spending attempts', async () => {
    const starts: number[] = [];
    const rescheduled: number[] = [];
    t = await createTestJobbus(
      { queues: ['q'], concurrency: 4, limits: { r: { rateLimit: { max: 2, perMs: 300 } } }, retry: { ...FAST, maxAttempts: 1 } },
      {
        handlers: { r: () => void starts.push(Date.now()) },
        hooks: { onRescheduled: (_job, info) => void rescheduled.push(info.delayMs) },
      },
    );
    await t.backend.enqueueBatch(Array.from({ length: 6 }, () => createJob({ name: 'r', queue: 'q', payload: 'x' })));
    await t.drain();
    expect(starts).toHaveLength(6);
    starts.sort((x, y) => x - y);
    for (let i = 2; i < starts.length; i++) expect(starts[i]! - starts[i - 2]!).toBeGreaterThanOrEqual(295);
    expect(rescheduled.length).toBeGreaterThan(0);
    expect(await t.deadLetters('q')).toHaveLength(0);
  });

  it('renews the lease while a long handler runs, and aborts the handler when renewal fails', async () => {
    let runs = 0;
    t = await createTestJobbus(
      { queues: ['q'], leaseTtlMs: 150, retry: { ...FAST, attemptTimeoutMs: 5_000 } },
      { handlers: { long: async () => void (runs++, await elapse(700)) } },
    );
    await t.backend.enqueue(createJob({ name: 'long', queue: 'q', payload: 'x' }));
    await t.drain();
    expect(runs).toBe(1); // the 150 ms lease was renewed: no redelivery during 700 ms

    await t.close();
    const aborted = deferred<unknown>();
    t = await createTestJobbus({ queues: ['q'], leaseTtlMs: 150, retry: FAST }, {
      handlers: { long: async (_j, ctx) => new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => (aborted.resolve(ctx.signal.reason), resolve()))) },
    });
    t.backend.renew = async () => {
      throw new Error('renewal refused');
    };
    await t.backend.enqueue(createJob({ name: 'long', queue: 'q', payload: 'x' }));
    expect(String(await aborted.promise)).toMatch(/renewal refused/);
  });
});

describe('middleware, current job and hooks', () => {
  it('runs middleware outermost-first around the handler, shares state, and can short-circuit', async () => {
    const trace: string[] = [];
    t = await createTestJobbus({ queues: ['q'], retry: FAST }, {
      autoStart: false,
      handlers: {
        h: (job, ctx) => void trace.push(`handler ${String(ctx.state.get('tenant'))} ${text(job)}`),
      },
    });
    t.worker.use(async (ctx, next) => {
      trace.push('outer in');
      const started = Date.now();
      await next();
      trace.push(`outer out ${Date.now() - started >= 0}`);
    });
    t.worker.use(async (ctx, next) => {
      if (text(ctx.job) === 'skip') {
        trace.push('short-circuit');
        return;
      }
      ctx.state.set('tenant', 'acme');
      await next();
    });
    await t.backend.enqueue(createJob({ name: 'h', queue: 'q', payload: 'run' }));
    expect((await t.processOne(1_000))?.kind).toBe('completed');
    await t.backend.enqueue(createJob({ name: 'h', queue: 'q', payload: 'skip' }));
    expect((await t.processOne(1_000))?.kind).toBe('completed');
    expect(trace).toEqual(['outer in', 'handler acme run', 'outer out true', 'outer in', 'short-circuit', 'outer out true']);
  });

  it('exposes the current job to any code the handler calls', async () => {
    const seen: (string | undefined)[] = [];
    async function deepInTheStack(): Promise<void> {
      await elapse(1);
      seen.push(currentJob()?.job.correlationId);
    }
    t = await createTestJobbus({ queues: ['q'] }, { handlers: { h: () => deepInTheStack() } });
    await t.backend.enqueue(createJob({ name: 'h', queue: 'q', payload: 'x', correlationId: 'req-42' }));
    await t.drain();
    expect(seen).toEqual(['req-42']);
    expect(currentJob()).toBeUndefined();

    // Turned off (for throughput), there is no current job.
    await t.close();
    seen.length = 0;
    t = await createTestJobbus({ queues: ['q'] }, { handlers: { h: () => deepInTheStack() }, asyncContext: false });
    await t.backend.enqueue(createJob({ name: 'h', queue: 'q', payload: 'x', correlationId: 'req-43' }));
    await t.drain();
    expect(seen).toEqual([undefined]);
  });

  it('logs through the injected pino logger with a child bound to the job', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    t = await createTestJobbus({ queues: ['q'], retry: { ...FAST, maxAttempts: 1 } }, {
      logger,
      handlers: { h: (_job, ctx) => ctx.logger.info({ step: 1 }, 'inside the handler'), p: () => { throw new PermanentError('bad'); } },
    });
    const job = await t.client.enqueueJob({ name: 'h', queue: 'q', payload: 'x', correlationId: 'corr-9' });
    await t.backend.enqueue(createJob({ name: 'p', queue: 'q', payload: 'x' }));
    await t.drain();
    expect(lines.find((l) => l.msg === 'inside the handler')).toMatchObject({
      jobId: job.id, jobName: 'h', queue: 'q', attempt: 0, correlationId: 'corr-9', step: 1,
    });
    expect(lines.find((l) => l.msg === 'job moved to the DLQ')).toMatchObject({ jobName: 'p', reason: expect.stringMatching(/bad/) });
  });

  it('reports started, completed, retry, rescheduled and dead, and ignores hooks that throw', async () => {
    const events: string[] = [];
    t = await createTestJobbus({ queues: ['q'], retry: { ...FAST, maxAttempts: 2 } }, {
      handlers: {
        ok: () => undefined,
        later: (job) => {
          if (job.headers.rescheduled === undefined && events.filter((e) => e === 'rescheduled later').length === 0) throw new RetryLaterError(10);
        },
        bad: () => {
          throw new Error('nope');
        },
        perm: () => {
          throw new PermanentError('never');
        },
      },
      hooks: {
        onStarted: (job) => void events.push(`started ${job.name}`),
        onCompleted: (job) => {
          events.push(`completed ${job.name}`);
          throw new Error('hook bug'); // must not break anything
        },
        onRetry: (job, i) => void events.push(`retry ${job.name} ${String(i.error)}`),
        onRescheduled: (job) => void events.push(`rescheduled ${job.name}`),
        onDead: (job, i) => void events.push(`dead ${job.name} ${i.reason.slice(0, 20)}`),
      },
    });
    for (const name of ['ok', 'later', 'bad', 'perm']) await t.backend.enqueue(createJob({ name, queue: 'q', payload: 'x' }));
    await t.drain();
    expect(events).toEqual(
      expect.arrayContaining([
        'started ok',
        'completed ok',
        'rescheduled later',
        'completed later',
        'retry bad Error: nope',
        'dead bad attempts exhausted (',
        'dead perm PermanentError [PERM',
      ]),
    );
    expect(await t.deadLetters('q')).toHaveLength(2);
  });
});

describe('configuration', () => {
  it('refuses dlq.queueSuffix, pointing to where DLQ names are made', async () => {
    t = await createTestJobbus({ queues: ['q'] }, { autoStart: false });
    const legacy = { queues: ['q'], dlq: { queueSuffix: '-dead' } } as unknown as WorkerConfigInput;
    expect(() => createWorker(t!.backend, legacy)).toThrow(ValidationError);
    expect(() => createWorker(t!.backend, legacy)).toThrow(/dlq\.queueSuffix.*pass `names`.*createJobbus/);
  });
});

describe('hook ordering', () => {
  it('runs async and sync hooks in registration order, each after the previous settled', async () => {
    const order: string[] = [];
    t = await createTestJobbus({ queues: ['q'] }, {
      handlers: { h: () => undefined },
      hooks: { onCompleted: async () => { await elapse(20); order.push('first (async)'); } },
    });
    t.worker.addHooks({ onCompleted: () => void order.push('second (sync)') });
    t.worker.addHooks({ onCompleted: async () => { throw new Error('ignored'); } });
    t.worker.addHooks({ onCompleted: () => void order.push('fourth (sync)') });
    await t.backend.enqueue(createJob({ name: 'h', queue: 'q', payload: 'x' }));
    await waitFor(() => order.length === 3, 'all hooks');
    expect(order).toEqual(['first (async)', 'second (sync)', 'fourth (sync)']);
  });
});

describe('stopping', () => {
  it('lets a second stop() wait for the same drain', async () => {
    const started = deferred();
    let finished = false;
    t = await createTestJobbus({ queues: ['q'] }, {
      handlers: { slow: async () => { started.resolve(); await elapse(150); finished = true; } },
    });
    await t.backend.enqueue(createJob({ name: 'slow', queue: 'q', payload: 'x' }));
    await started.promise;
    const [a, b] = [t.worker.stop(), t.worker.stop()];
    await b;
    expect(finished).toBe(true); // the second call did not return before the drain
    await a;
  });
});

describe('health and testing helpers', () => {
  it('reports structured health for the runtime and the backend, with a timeout', async () => {
    t = await createTestJobbus({ queues: ['q'] }, { autoStart: false });
    expect(await backendHealthChecker(t.backend).check()).toMatchObject({ name: 'jobs-backend', status: 'up' });
    const hanging = runtimeHealthChecker({ healthCheck: () => new Promise(() => undefined) }, { timeoutMs: 50 });
    expect(await hanging.check()).toMatchObject({ name: 'jobs-runtime', status: 'down', error: expect.stringMatching(/timed out/) });
    await t.bus.close();
    expect(await backendHealthChecker(t.backend).check()).toMatchObject({ status: 'down', error: expect.stringMatching(/CLOSED/) });
  });

  it('processes exactly one job, counts pending jobs and inspects the DLQ', async () => {
    t = await createTestJobbus({ queues: ['q'], retry: FAST }, {
      autoStart: false,
      handlers: { ok: () => undefined, boom: () => { throw new PermanentError('boom'); } },
    });
    await t.backend.enqueueBatch([
      createJob({ name: 'ok', queue: 'q', payload: '1' }),
      createJob({ name: 'boom', queue: 'q', payload: '2' }),
    ]);
    expect(t.pendingCount('q')).toBe(2);
    expect((await t.processOne(1_000))?.kind).toBe('completed');
    expect(t.pendingCount('q')).toBe(1);
    const out = await t.processOne(1_000);
    expect(out).toMatchObject({ kind: 'dead', reason: expect.stringMatching(/boom/) });
    expect(await t.processOne(50)).toBeUndefined();
    const [entry] = await t.deadLetters('q');
    expect(entry!.job.name).toBe('boom');
    expect(entry!.originalQueue).toBe('q');
    expect(encodeJob(entry!.job).headers[HEADERS.failureReason]).toMatch(/boom/);
  });
});
