/** The worker's public types: handlers, middleware, hooks, options, outcomes, the Worker. */
import type { Logger } from 'pino';
import type { WorkerConfig } from '../jobs/config.js';
import type { BackoffPolicy, JobContext, RegistrableJob } from '../jobs/define.js';
import type { Job } from '../jobs/types.js';

export type { JobContext };

/** A job handler; throw to fail the attempt ({@link PermanentError}, {@link RetryLaterError} to steer). */
export type JobHandler = (job: Job, context: JobContext) => Promise<void> | void;

/**
 * Middleware around every handler call. Call `next()` to continue the chain (and run the
 * handler); return without calling it to short-circuit (the job counts as done); throw to
 * fail the attempt like a handler would.
 */
export type Middleware = (context: JobContext, next: () => Promise<void>) => Promise<void>;

/** Observer hooks. They never affect processing: a hook that throws is logged and ignored. */
export interface WorkerHooks {
  /** A handler is about to run. */
  onStarted?(job: Job): void | Promise<void>;
  /** The job was acknowledged. */
  onCompleted?(job: Job, info: { durationMs: number }): void | Promise<void>;
  /** The attempt failed; the job will run again after `delayMs` (an attempt was spent). */
  onRetry?(job: Job, info: { error: unknown; delayMs: number }): void | Promise<void>;
  /** The job was put off without spending an attempt (RetryLaterError, a limit). */
  onRescheduled?(job: Job, info: { delayMs: number; reason: string }): void | Promise<void>;
  /** The job was moved to the dead-letter queue. */
  onDead?(job: Job, info: { error: unknown; reason: string }): void | Promise<void>;
  /** The worker hit an error of its own (reserve failed, settle failed). */
  onError?(error: unknown, job?: Job): void | Promise<void>;
}

/** Options of {@link createWorker} beyond the validated {@link WorkerConfigInput}. */
export interface WorkerOptions {
  /** Logger; default pino at `JOBBUS_LOG_LEVEL` (default `warn`). */
  readonly logger?: Logger;
  /** Backoff for every job without its own; default exponential from `config.retry`. */
  readonly backoff?: BackoffPolicy;
  /** Observer hooks. */
  readonly hooks?: WorkerHooks;
  /** Random source for jitter, for tests. */
  readonly random?: () => number;
  /**
   * Run handlers inside an AsyncLocalStorage so {@link currentJob} works anywhere down the
   * stack (default true). On Node 20 that turns on promise hooks for the whole process; a
   * worker that never calls `currentJob()` gains about 2 % throughput with `false` (bench:kafka).
   */
  readonly asyncContext?: boolean;
}

/** What happened to one job, as returned by {@link Worker.processOne}. */
export type JobOutcome =
  | { readonly kind: 'completed'; readonly job: Job }
  | { readonly kind: 'retry'; readonly job: Job; readonly delayMs: number; readonly reason: string }
  | { readonly kind: 'rescheduled'; readonly job: Job; readonly delayMs: number; readonly reason: string }
  | { readonly kind: 'dead'; readonly job: Job; readonly reason: string }
  | { readonly kind: 'released'; readonly job: Job };

/** Pulls jobs from a backend and runs their handlers. */
export interface Worker {
  /** Register the handler of a job name. */
  register(jobName: string, handler: JobHandler): void;
  /** Register a typed job definition: its payload is parsed by its schema before the handler. */
  register(definition: RegistrableJob): void;
  /** Add a middleware; the first added is the outermost. */
  use(middleware: Middleware): void;
  /** Add observer hooks. */
  addHooks(hooks: WorkerHooks): void;
  /** Start consuming the configured queues. */
  start(): Promise<void>;
  /** Stop taking jobs, let in-flight ones finish up to `stopTimeoutMs`, abort and release the rest. */
  stop(): Promise<void>;
  /** Reserve and run exactly one job (worker not started); `undefined` when none came within the timeout. */
  processOne(timeoutMs?: number): Promise<JobOutcome | undefined>;
  /** Jobs running now. */
  readonly running: number;
  /** The effective configuration. */
  readonly config: WorkerConfig;
}

