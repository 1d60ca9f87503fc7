import type { Logger } from 'pino';
import { ClosedError, ConflictError, describeError, InvalidArgumentError, NoHandlerError, NotInitializedError } from '../errors.js';
import { parseWorkerConfig, type WorkerConfigInput } from '../jobs/config.js';
import type { RegistrableJob } from '../jobs/define.js';
import { isPrefetching, type Backend, type Lease } from '../jobs/types.js';
import { defaultLogger } from '../jobs/logger.js';
import { ACK, completed, decide, settleAttempt, settleFailed, type Decision } from './outcome.js';
import { createHookEmitter } from './hooks.js';
import { createJobLimits } from './limits.js';
import { createLeaseSweep } from './lease-sweep.js';
import { createDispatcher, sleep } from './dispatcher.js';
import { createHandlerRegistry } from './registry.js';
import { SlotList } from '../eventbus/slot-list.js';
import { abortRunning, createAttemptRunner, loggerOf, type AttemptResult, type Running } from './attempt.js';
import type { JobHandler, JobOutcome, Middleware, Worker, WorkerHooks, WorkerOptions } from './types.js';

export type { JobContext, JobHandler, JobOutcome, Middleware, Worker, WorkerHooks, WorkerOptions } from './types.js';
export { currentJob } from './attempt.js';

/** The decision for a job no handler is registered for: dead, the handler is missing for good. */
function noHandler(name: string): Decision {
  const error = new NoHandlerError(name);
  return { kind: 'dead', reason: describeError(error), error };
}

/** Where a worker is in its life; see {@link createWorker}. */
type WorkerState = 'idle' | 'running' | 'stopping' | 'stopped';

/** A promise every waiter shares, resolved (and replaced) at each change. */
function createChangeSignal(): { changed(): Promise<void>; signal(): void } {
  let wake: (() => void) | undefined;
  let current: Promise<void> | undefined;
  return {
    changed: () => (current ??= new Promise((resolve) => (wake = resolve))),
    signal() {
      const w = wake;
      wake = undefined;
      current = undefined;
      w?.();
    },
  };
}

/**
 * Create a worker over any {@link Backend} (one that prefetches, like the runtime backend, also
 * gets its buffered counts used for fairness and its prefetched jobs handed back on stop).
 *
 *   idle --start--> running --stop--> stopping --drained or timed out--> stopped
 *
 * While running, the dispatcher (dispatcher.ts) reserves jobs up to `concurrency`. Each
 * attempt (attempt.ts) gets an AbortSignal, a timeout and lease renewal (lease-sweep.ts); its
 * outcome (outcome.ts: ack, retry with backoff, reschedule without spending an attempt, or
 * dead-letter) is settled only after the handler has returned, so a retry never overlaps a
 * running attempt, except for a handler that ignores its timeout's abort past its lease: that
 * job is redelivered while the stale attempt runs on (see lease-sweep.ts).
 */
export function createWorker(backend: Backend, configInput: WorkerConfigInput, options: WorkerOptions = {}): Worker {
  const config = parseWorkerConfig(configInput);
  const logger = options.logger ?? defaultLogger();
  const hooks: WorkerHooks[] = options.hooks ? [options.hooks] : [];
  const emit = createHookEmitter(hooks, logger);
  const limits = createJobLimits(config.limits);
  const decideSettings = { retry: config.retry, backoff: options.backoff, random: options.random ?? Math.random };
  const settleDeps = { backend, dlqEnabled: config.dlq.enabled, emit, logger };
  const middleware: Middleware[] = [];
  const queueNames = config.queues.map((q) => q.name);
  const handlers = createHandlerRegistry(queueNames);
  const inFlight = new SlotList<Running>();
  const prefetching = isPrefetching(backend) ? backend : undefined;
  // A backend that acks without I/O acks synchronously: no promise or await per completed job.
  const ackNow = prefetching?.ackNow?.bind(prefetching);
  const change = createChangeSignal();
  const sweep = createLeaseSweep(backend, config.leaseTtlMs, inFlight, logger);
  const attempts = createAttemptRunner({ sweep, retry: config.retry, middleware, asyncContext: options.asyncContext ?? true, logger });
  let state: WorkerState = 'idle';
  let stopReserving = new AbortController();
  let stopping: Promise<void> | undefined;
  let loop: Promise<void> | undefined;

  const isRunning = (): boolean => state === 'running';

  /** Move to `to`, asserting the worker is in `from` (anything else is a bug here). */
  function enter(to: WorkerState, from: WorkerState): void {
    if (state !== from) throw new ConflictError(`worker cannot become ${to}: it is ${state} (expected ${from})`);
    state = to;
  }

  const dispatcher = createDispatcher({
    backend,
    config,
    // Without a count of waiting jobs, every queue passed over counts as waiting (fair, never starved).
    waiting: prefetching ? (q) => prefetching.bufferedCount(q) > 0 : () => true,
    ...(prefetching?.reserveReady && { reserveReady: prefetching.reserveReady.bind(prefetching) }),
    running: () => inFlight.size,
    changed: change.changed,
    isRunning,
    start: (lease) => void startJob(lease),
    emit,
    logger,
  });

  /**
   * The job-bound logger of a running job, made when first called. Made here, not inline in
   * startJob: a closure there would capture its locals into a context allocated for every job.
   */
  const logOf =
    (running: Running) =>
    (): Logger =>
      loggerOf(running, logger);

  /**
   * Run a reserved job: admit it under its name's limits, run its handler, decide what the
   * outcome calls for and settle it. One async function on purpose: the common path (admitted,
   * handler resolved, ack) costs this function's promise, the handler's and one await, not a
   * promise, a suspended frame and an await per step (each promise also pays the promise hooks
   * of `currentJob`'s async context).
   */
  async function startJob(lease: Lease): Promise<JobOutcome> {
    const running: Running = { lease, released: false, aborted: false, renewAt: 0, renewing: false, deadline: 0, timeoutMs: 0, slot: -1 };
    inFlight.add(running);
    sweep.ensure();
    dispatcher.track(lease.queue, 1);
    // The job name counted against its limits while its attempt runs (undefined when not running).
    let counted: string | undefined;
    try {
      const startedAt = Date.now();
      const job = lease.job;
      let decision: Decision;
      const reg = handlers.get(job.name);
      const admitted = reg ? limits.admit(job.name, reg.definition) : undefined;
      if (!reg) decision = noHandler(job.name);
      else if (!admitted!.ok) decision = { kind: 'rescheduled', delayMs: admitted!.delayMs, reason: admitted!.reason };
      else {
        limits.track((counted = job.name), 1);
        const hooked = emit('onStarted', job);
        if (hooked) await hooked;
        let result: AttemptResult;
        try {
          const pending = attempts.call(running, reg);
          if (pending) await pending;
          result = attempts.end(running, false);
        } catch (err) {
          result = attempts.end(running, true, err);
        }
        decision = result.failed ? decide(job, result.error, reg.definition, decideSettings) : ACK;
        limits.track(counted, -1);
        counted = undefined;
      }
      if (running.released) return { kind: 'released', job: running.lease.job }; // stop() gave up on it; the bus redelivers it
      if (decision !== ACK) return await settleAttempt(settleDeps, running.lease, decision, startedAt, logOf(running));
      try {
        if (ackNow) ackNow(running.lease);
        else await backend.ack(running.lease);
      } catch (err) {
        return await settleFailed(settleDeps, job, err, logOf(running));
      }
      if (logger.isLevelEnabled('debug')) loggerOf(running, logger).debug('job completed');
      const hooked = completed(settleDeps, job, startedAt);
      if (hooked) await hooked;
      return { kind: 'completed', job };
    } catch (err) {
      if (counted !== undefined) limits.track(counted, -1); // an onStarted hook or decide threw: the attempt is over
      logger.error({ err, jobId: lease.job.id }, 'unexpected worker error');
      await emit('onError', err, lease.job);
      return { kind: 'released', job: lease.job };
    } finally {
      inFlight.delete(running);
      dispatcher.track(lease.queue, -1);
      sweep.release();
      change.signal();
    }
  }

  /** Abort and release what is still running after the stop timeout (the bus redelivers it). */
  async function giveUpOnStuck(): Promise<void> {
    const stuck = [...inFlight];
    logger.warn({ jobs: stuck.map((r) => r.lease.job.id) }, 'stop timeout: aborting and releasing in-flight jobs');
    for (const r of stuck) {
      r.released = true;
      abortRunning(r, new ClosedError('worker stopped'));
      await backend.release(r.lease).catch(() => undefined);
    }
  }

  async function drainAndStop(): Promise<void> {
    enter('stopping', 'running');
    stopReserving.abort();
    change.signal();
    await loop;
    const giveUp = new AbortController();
    const drained = (async () => {
      while (inFlight.size > 0) await change.changed();
      return true;
    })();
    const inTime = await Promise.race([drained, sleep(config.stopTimeoutMs, giveUp.signal).then(() => false)]);
    giveUp.abort();
    if (!inTime) await giveUpOnStuck();
    // Jobs prefetched for this worker go back to the bus now, not when the backend closes.
    await prefetching?.detach(queueNames).catch((err: unknown) => logger.warn({ err }, 'could not detach the queues'));
    enter('stopped', 'stopping');
  }

  const worker: Worker = {
    config,
    get running() {
      return inFlight.size;
    },

    register(nameOrDef: string | RegistrableJob, handler?: JobHandler) {
      handlers.register(nameOrDef, handler);
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
      if (isRunning()) return; // a concurrent start() won
      enter('running', 'idle');
      stopReserving = new AbortController();
      loop = dispatcher.run(stopReserving.signal).catch((err: unknown) => logger.error({ err }, 'worker dispatcher failed'));
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
      const lease = await dispatcher.reserveOnce(timeoutMs);
      return lease ? startJob(lease) : undefined;
    },
  };
  return worker;
}
