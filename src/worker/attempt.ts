/**
 * One attempt of a job inside the worker: the running record, its lazily built context,
 * logger and abort signal, and running its handler through the middleware.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import { JobbusError } from '../errors.js';
import type { RetryConfig } from '../jobs/config.js';
import type { JobContext, RegistrableJob } from '../jobs/define.js';
import type { Job, Lease } from '../jobs/types.js';
import type { LeaseSweep } from './lease-sweep.js';
import { maxAttemptsOf } from './outcome.js';
import type { Middleware } from './types.js';

const currentJobStorage = new AsyncLocalStorage<JobContext>();

/**
 * The context of the job whose handler (or middleware) is running in the current async
 * context, or `undefined` outside a job: logs and outbound calls anywhere down the stack can
 * carry the job id and correlation id.
 */
export function currentJob(): JobContext | undefined {
  return currentJobStorage.getStore();
}

/** A registered handler, with its job definition when it was registered from one. */
export interface Registered {
  readonly handler: (job: Job, ctx: JobContext) => Promise<void> | void;
  readonly definition?: RegistrableJob;
}

/** A job the worker runs: its lease, abort state, renewal and timeout bookkeeping. */
export interface Running {
  /** The lease as last renewed. */
  lease: Lease;
  /** Set once stop() gave up on the job and released it: nothing may settle it afterwards. */
  released: boolean;
  /** Why the attempt was aborted (timeout, lost lease, stop), once it was. */
  aborted: boolean;
  abortReason?: unknown;
  /** Created only when the handler looks at its signal (most no-op handlers never do). */
  controller?: AbortController;
  /** When the sweep should next renew this lease (0 = not while no handler runs). */
  renewAt: number;
  renewing: boolean;
  /** When the sweep aborts the attempt with a timeout (0 = no handler running). */
  deadline: number;
  timeoutMs: number;
  /** Child logger bound to the job, made on first use (pino serialises bindings eagerly). */
  log?: Logger;
  /** Index in the worker's in-flight list (a SlotList), -1 when not in it. */
  slot: number;
}

/** The job-bound child logger of a running job, made on first use. */
export function loggerOf(r: Running, base: Logger): Logger {
  const job = r.lease.job;
  return (r.log ??= base.child({
    jobId: job.id,
    jobName: job.name,
    queue: job.queue,
    attempt: job.attempt,
    ...(job.correlationId && { correlationId: job.correlationId }),
  }));
}

/** The {@link JobContext} of one attempt; a class so that nothing is allocated per job until used. */
export class AttemptContext implements JobContext {
  readonly job: Job;
  readonly attempt: number;
  readonly deliveryCount: number;
  readonly #running: Running;
  readonly #baseLogger: Logger;
  readonly #renew: (r: Running) => Promise<void>;
  #state: Map<string, unknown> | undefined;

  constructor(
    running: Running,
    readonly maxAttempts: number,
    baseLogger: Logger,
    renew: (r: Running) => Promise<void>,
  ) {
    this.job = running.lease.job;
    this.attempt = this.job.attempt;
    this.deliveryCount = running.lease.deliveryCount;
    this.#running = running;
    this.#baseLogger = baseLogger;
    this.#renew = renew;
  }

  get signal(): AbortSignal {
    return signalOf(this.#running);
  }

  get logger(): Logger {
    return loggerOf(this.#running, this.#baseLogger);
  }

  get state(): Map<string, unknown> {
    return (this.#state ??= new Map());
  }

  renew(): Promise<void> {
    return this.#renew(this.#running);
  }
}

/** Call the handler (a named function so the async-context path needs no closure). */
export function invokeHandler(reg: Registered, job: Job, ctx: JobContext): Promise<void> | void {
  return reg.handler(job, ctx);
}

/** Abort an attempt once (timeout, lost lease, stop); its signal fires if anyone looks at it. */
export function abortRunning(r: Running, reason: unknown): void {
  if (r.aborted) return;
  r.aborted = true;
  r.abortReason = reason;
  r.controller?.abort(reason);
}

/** The attempt's abort signal, created on first use. */
export function signalOf(r: Running): AbortSignal {
  if (!r.controller) {
    r.controller = new AbortController();
    if (r.aborted) r.controller.abort(r.abortReason);
  }
  return r.controller.signal;
}


/** How an attempt's handler ended: `failed` with the error that failed it, or not. */
export type AttemptResult = { readonly failed: false } | { readonly failed: true; readonly error: unknown };

const SUCCEEDED: AttemptResult = { failed: false };

/** What {@link createAttemptRunner} needs of its worker. */
export interface AttemptRunnerDeps {
  readonly sweep: LeaseSweep;
  readonly retry: RetryConfig;
  /** The worker's middleware, first added outermost (read at each attempt: it may grow). */
  readonly middleware: readonly Middleware[];
  readonly asyncContext: boolean;
  readonly logger: Logger;
}

/**
 * One attempt in two steps, so that the worker awaits the handler itself (one promise per job
 * instead of an async function around it): {@link AttemptRunner.call} arms its timeout and
 * lease renewal and calls the middleware chain and the handler; {@link AttemptRunner.end} says,
 * once that settled, whether the attempt failed.
 */
export interface AttemptRunner {
  /**
   * Arm the attempt and call the middleware chain and the handler (inside the async context
   * that {@link currentJob} reads, unless turned off). Returns what the handler returned (a
   * synchronous handler's throw is thrown): the caller awaits it, then calls {@link end}.
   */
  call(running: Running, reg: Registered): Promise<void> | void;
  /**
   * Disarm the attempt and say how it ended: `threw` with `err`, or not. A handler that
   * resolved after its signal aborted (timeout, lost lease) still failed, with the abort's reason.
   */
  end(running: Running, threw: boolean, err?: unknown): AttemptResult;
}

/** Create the attempt runner of a worker. */
export function createAttemptRunner(deps: AttemptRunnerDeps): AttemptRunner {
  const { sweep, retry, middleware, asyncContext, logger } = deps;

  function callChain(reg: Registered, job: Job, ctx: JobContext): Promise<void> | void {
    if (middleware.length === 0) return asyncContext ? currentJobStorage.run(ctx, invokeHandler, reg, job, ctx) : invokeHandler(reg, job, ctx);
    const chain = (i: number): Promise<void> => {
      const mw = middleware[i];
      if (mw) return mw(ctx, () => chain(i + 1));
      return Promise.resolve(reg.handler(job, ctx));
    };
    return asyncContext ? currentJobStorage.run(ctx, chain, 0) : chain(0);
  }

  return {
    call(running, reg) {
      const job = running.lease.job;
      const def = reg.definition;
      sweep.arm(running, def?.timeoutMs ?? retry.attemptTimeoutMs);
      return callChain(reg, job, new AttemptContext(running, maxAttemptsOf(job, def, retry), logger, sweep.renew));
    },
    end(running, threw, err) {
      running.renewAt = 0;
      running.deadline = 0;
      if (!threw) return running.aborted ? { failed: true, error: running.abortReason } : SUCCEEDED;
      const reason: unknown = running.abortReason;
      return { failed: true, error: running.aborted && reason instanceof JobbusError ? reason : err };
    },
  };
}
