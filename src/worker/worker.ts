import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import {
  ClosedError,
  ConflictError,
  describeError,
  InvalidArgumentError,
  JobbusError,
  LeaseExpiredError,
  NoHandlerError,
  NotInitializedError,
  PublishRejectedError,
} from '../errors.js';
import { parseWorkerConfig, type QueueSpec, type WorkerConfigInput } from '../jobs/config.js';
import type { JobContext, RegistrableJob } from '../jobs/define.js';
import { isPrefetching, type Backend, type Job, type Lease } from '../jobs/types.js';
import { defaultLogger } from '../jobs/logger.js';
import { ACK, decide, maxAttemptsOf, type Decision } from './decide.js';
import { createHookEmitter } from './hooks.js';
import { createJobLimits } from './limits.js';
import { createLeaseSweep } from './lease-sweep.js';
import { createQueueOrder } from './queue-order.js';
import { abortRunning, AttemptContext, invokeHandler, loggerOf, type Registered, type Running } from './attempt.js';

import type { JobHandler, JobOutcome, Middleware, Worker, WorkerHooks, WorkerOptions } from './types.js';

export type { JobContext, JobHandler, JobOutcome, Middleware, Worker, WorkerHooks, WorkerOptions } from './types.js';

const SUCCEEDED = { failed: false } as const;

const currentJobStorage = new AsyncLocalStorage<JobContext>();

/**
 * The context of the job whose handler (or middleware) is running in the current async
 * context, or `undefined` outside a job: logs and outbound calls anywhere down the stack can
 * carry the job id and correlation id.
 */
export function currentJob(): JobContext | undefined {
  return currentJobStorage.getStore();
}

/**
 * Create a worker.
 *
 * States: idle --start--> running --stop--> stopping --drained or timed out--> stopped.
 * While running, one dispatcher loop reserves a job whenever fewer than `concurrency` run
 * (and the queue's own cap allows), taking queues by priority with a fairness limit, so
 * `concurrency` handlers really run at once. Each attempt gets an AbortSignal, a timeout and
 * lease renewal; its outcome (ack, retry with backoff, reschedule without spending an
 * attempt, or dead-letter) is settled only after the handler has returned, so a retry never
 * overlaps a running attempt, except for a handler that ignores its timeout's abort past its
 * lease: that job is redelivered while the stale attempt runs on (see lease-sweep.ts).
 */
export function createWorker(backend: Backend, configInput: WorkerConfigInput, options: WorkerOptions = {}): Worker {
  const config = parseWorkerConfig(configInput);
  const logger = options.logger ?? defaultLogger();
  const random = options.random ?? Math.random;
  const asyncContext = options.asyncContext ?? true;
  const hooks: WorkerHooks[] = options.hooks ? [options.hooks] : [];
  const emit = createHookEmitter(hooks, logger);
  const limits = createJobLimits(config.limits);
  const decideSettings = { retry: config.retry, backoff: options.backoff, random };
  const middleware: Middleware[] = [];
  const handlers = new Map<string, Registered>();
  const inFlight = new Set<Running>();
  const prefetching = isPrefetching(backend) ? backend : undefined;
  // Without a count of waiting jobs, every queue passed over counts as waiting (fair, never starved).
  const queueOrder = createQueueOrder(config.queues, config.fairnessLimit, prefetching ? (q) => prefetching.bufferedCount(q) > 0 : () => true);
  const queueNames = config.queues.map((q) => q.name);
  let state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  let stopReserving = new AbortController();
  let stopping: Promise<void> | undefined;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let changeSignal: Promise<void> | undefined;
  const leases = createLeaseSweep(backend, config.leaseTtlMs, inFlight, logger);

  /** Resolves when a job finishes (or stop begins): a slot or a queue cap may have opened. */
  function changed(): Promise<void> {
    // One shared promise, so every waiter (dispatcher, stop's drain) is woken.
    return (changeSignal ??= new Promise((resolve) => (wake = resolve)));
  }

  function signalChange(): void {
    const w = wake;
    wake = undefined;
    changeSignal = undefined;
    w?.();
  }

  /** Reserve from the first queue of `order` that has a job, and count who was passed over. */
  async function reserveFrom(order: readonly QueueSpec[], timeoutMs: number, signal?: AbortSignal): Promise<Lease | undefined> {
    const lease = await backend.reserve(queueOrder.namesOf(order), config.leaseTtlMs, { timeoutMs, ...(signal && { signal }) });
    if (lease) queueOrder.picked(order, lease.queue);
    return lease;
  }

  async function dispatch(): Promise<void> {
    let failures = 0;
    while (state === 'running') {
      const order = inFlight.size < config.concurrency ? queueOrder.order() : [];
      if (order.length === 0) {
        await changed();
        continue;
      }
      let lease: Lease | undefined;
      try {
        lease = await reserveFrom(order, config.reserveTimeoutMs, stopReserving.signal);
        failures = 0;
      } catch (err) {
        if (err instanceof ClosedError) break;
        failures++;
        logger.error({ err }, 'reserve failed; retrying');
        await emit('onError', err);
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)), stopReserving.signal);
        continue;
      }
      if (!lease) continue;
      if (state !== 'running') {
        await backend.release(lease).catch(() => undefined);
        break;
      }
      void startJob(lease);
    }
  }

  async function startJob(lease: Lease): Promise<JobOutcome> {
    const running: Running = { lease, released: false, aborted: false, renewAt: 0, renewing: false, deadline: 0, timeoutMs: 0 };
    inFlight.add(running);
    leases.ensure();
    queueOrder.track(lease.queue, 1);
    try {
      return await runJob(running);
    } catch (err) {
      logger.error({ err, jobId: lease.job.id }, 'unexpected worker error');
      await emit('onError', err, lease.job);
      return { kind: 'released', job: lease.job };
    } finally {
      inFlight.delete(running);
      queueOrder.track(lease.queue, -1);
      leases.release();
      signalChange();
    }
  }

  async function runHandler(running: Running, reg: Registered): Promise<{ failed: boolean; error?: unknown }> {
    const job = running.lease.job;
    const def = reg.definition;
    const timeoutMs = def?.timeoutMs ?? config.retry.attemptTimeoutMs;
    leases.arm(running, timeoutMs);
    const ctx = new AttemptContext(running, maxAttemptsOf(job, def, config.retry), logger, leases.renew);
    try {
      if (middleware.length === 0) {
        if (asyncContext) await currentJobStorage.run(ctx, invokeHandler, reg, job, ctx);
        else await invokeHandler(reg, job, ctx);
      } else {
        const chain = (i: number): Promise<void> => {
          const mw = middleware[i];
          if (mw) return mw(ctx, () => chain(i + 1));
          return Promise.resolve(reg.handler(job, ctx));
        };
        if (asyncContext) await currentJobStorage.run(ctx, chain, 0);
        else await chain(0);
      }
      // A handler that resolved after its signal aborted (timeout, lost lease) still failed the attempt.
      if (running.aborted) return { failed: true, error: running.abortReason };
      return SUCCEEDED;
    } catch (err) {
      const reason: unknown = running.abortReason;
      return { failed: true, error: running.aborted && reason instanceof JobbusError ? reason : err };
    } finally {
      running.renewAt = 0;
      running.deadline = 0;
    }
  }

  async function runJob(running: Running): Promise<JobOutcome> {
    const job = running.lease.job;
    const reg = handlers.get(job.name);
    let decision: Decision;
    const startedAt = Date.now();
    if (!reg) {
      const error = new NoHandlerError(job.name);
      decision = { kind: 'dead', reason: describeError(error), error };
    } else {
      const admitted = limits.admit(job.name, reg.definition);
      if (!admitted.ok) {
        decision = { kind: 'rescheduled', delayMs: admitted.delayMs, reason: admitted.reason };
      } else {
        limits.track(job.name, 1);
        try {
          const hooked = emit('onStarted', job);
          if (hooked) await hooked;
          const result = await runHandler(running, reg);
          decision = result.failed ? decide(job, result.error, reg.definition, decideSettings) : ACK;
        } finally {
          limits.track(job.name, -1);
        }
      }
    }
    if (running.released) return { kind: 'released', job }; // stop() gave up on it; the bus redelivers it
    const lease = running.lease;
    const log = (): Logger => loggerOf(running, logger);
    try {
      switch (decision.kind) {
        case 'ack': {
          await backend.ack(lease);
          if (logger.isLevelEnabled('debug')) log().debug('job completed');
          const hooked = emit('onCompleted', job, { durationMs: Date.now() - startedAt });
          if (hooked) await hooked;
          return { kind: 'completed', job };
        }
        case 'retry': {
          const refused = await nackOrRefused(lease, decision.delayMs, decision.reason, true, log);
          if (refused) return settleDead(job, lease, `${refused.message}; the attempt failed with: ${decision.reason}`, decision.error, log);
          log().info({ delayMs: decision.delayMs, reason: decision.reason }, 'job will be retried');
          await emit('onRetry', job, { error: decision.error, delayMs: decision.delayMs });
          return { kind: 'retry', job, delayMs: decision.delayMs, reason: decision.reason };
        }
        case 'rescheduled': {
          const refused = await nackOrRefused(lease, decision.delayMs, decision.reason, false, log);
          if (refused) return settleDead(job, lease, `${refused.message}; the job was put off: ${decision.reason}`, undefined, log);
          if (logger.isLevelEnabled('debug')) log().debug({ delayMs: decision.delayMs, reason: decision.reason }, 'job rescheduled');
          await emit('onRescheduled', job, { delayMs: decision.delayMs, reason: decision.reason });
          return { kind: 'rescheduled', job, delayMs: decision.delayMs, reason: decision.reason };
        }
        case 'dead':
          return await settleDead(job, lease, decision.reason, decision.error, log);
        case 'release':
          await backend.release(lease);
          log().info({ reason: decision.reason }, 'job released for redelivery: the runtime is closing');
          return { kind: 'released', job };
      }
    } catch (err) {
      if (err instanceof LeaseExpiredError) log().warn('lease expired before the job was settled; it will be redelivered');
      else log().error({ err }, 'settling the job failed; it will be redelivered');
      await emit('onError', err, job);
      return { kind: 'released', job };
    }
  }

  /**
   * nack; undefined when the copy was published. A copy the broker refuses for good (too
   * large, a runAt past year 9999) leaves the lease held and is returned, for the caller to
   * dead-letter the job (S1).
   */
  async function nackOrRefused(
    lease: Lease,
    delayMs: number,
    reason: string,
    countAttempt: boolean,
    log: () => Logger,
  ): Promise<PublishRejectedError | undefined> {
    try {
      const runAt = new Date(Date.now() + delayMs);
      await backend.nack(lease, runAt, reason, countAttempt ? {} : { countAttempt: false });
      return undefined;
    } catch (err) {
      if (!(err instanceof PublishRejectedError)) throw err;
      log().error({ err, reason }, 'the copy of the job was refused for good; moving the job to the DLQ instead');
      return err;
    }
  }

  async function settleDead(job: Job, lease: Lease, reason: string, error: unknown, log: () => Logger): Promise<JobOutcome> {
    if (config.dlq.enabled) {
      await backend.moveToDLQ(lease, reason);
      log().warn({ reason }, 'job moved to the DLQ');
    } else {
      await backend.ack(lease);
      log().error({ reason }, 'job dropped (DLQ disabled)');
    }
    await emit('onDead', job, { error, reason });
    return { kind: 'dead', job, reason };
  }

  async function drainAndStop(): Promise<void> {
    state = 'stopping';
    stopReserving.abort();
    signalChange();
    await loop;
    const giveUp = new AbortController();
    const drained = (async () => {
      while (inFlight.size > 0) await changed();
      return true;
    })();
    const inTime = await Promise.race([drained, sleep(config.stopTimeoutMs, giveUp.signal).then(() => false)]);
    giveUp.abort();
    if (!inTime) {
      const stuck = [...inFlight];
      logger.warn({ jobs: stuck.map((r) => r.lease.job.id) }, 'stop timeout: aborting and releasing in-flight jobs');
      for (const r of stuck) {
        r.released = true;
        abortRunning(r, new ClosedError('worker stopped'));
        await backend.release(r.lease).catch(() => undefined);
      }
    }
    // Jobs prefetched for this worker go back to the bus now, not when the backend closes.
    await prefetching?.detach(queueNames).catch((err: unknown) => logger.warn({ err }, 'could not detach the queues'));
    state = 'stopped';
  }

  const worker: Worker = {
    config,
    get running() {
      return inFlight.size;
    },

    register(nameOrDef: string | RegistrableJob, handler?: JobHandler) {
      let name: string;
      let reg: Registered;
      if (typeof nameOrDef === 'string') {
        name = nameOrDef;
        if (name.trim() === '') throw new InvalidArgumentError('job name must be a non-empty string');
        if (typeof handler !== 'function') throw new InvalidArgumentError(`handler of "${name}" must be a function`);
        reg = { handler };
      } else if (nameOrDef && typeof nameOrDef === 'object' && typeof nameOrDef.decode === 'function') {
        const def = nameOrDef;
        name = def.name;
        if (!queueNames.includes(def.queue)) {
          throw new InvalidArgumentError(`job "${name}" is defined on queue "${def.queue}", which this worker does not consume (${queueNames.join(', ')})`);
        }
        reg = { definition: def, handler: (job, ctx) => def.handler(def.decode(job.payload) as never, ctx) };
      } else {
        throw new InvalidArgumentError('register takes (jobName, handler) or a job definition from defineJob');
      }
      if (handlers.has(name)) throw new ConflictError(`a handler for "${name}" is already registered`);
      handlers.set(name, reg);
    },

    use(mw) {
      if (typeof mw !== 'function') throw new InvalidArgumentError('middleware must be a function (context, next) => Promise<void>');
      middleware.push(mw);
    },

    addHooks(h) {
      hooks.push(h);
    },

    async start() {
      if (state === 'running') return;
      if (state !== 'idle') throw new ClosedError(`worker cannot start: it is ${state}`);
      await backend.healthCheck();
      state = 'running';
      stopReserving = new AbortController();
      loop = dispatch().catch((err: unknown) => logger.error({ err }, 'worker dispatcher failed'));
    },

    async stop() {
      if (state === 'idle') throw new NotInitializedError('worker was never started');
      // A second stop() (e.g. SIGTERM then SIGINT) waits for the same drain.
      return (stopping ??= drainAndStop());
    },

    async processOne(timeoutMs = config.reserveTimeoutMs) {
      if (state === 'running' || state === 'stopping') {
        throw new ConflictError('processOne drives a worker that is not started; stop it first');
      }
      const lease = await reserveFrom(queueOrder.order(), timeoutMs);
      return lease ? startJob(lease) : undefined;
    },
  };
  return worker;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
