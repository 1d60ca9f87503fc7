import type { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import { createJob, type JobInput } from './job.js';
import type { JobDefinition } from './define.js';
import type { Headers, Job, Runtime } from './types.js';

/** Per-job options of the enqueue calls. */
export interface EnqueueOptions {
  /** Job id; default a new UUIDv7. Reuse an id to make a re-enqueue recognisable as a duplicate. */
  readonly id?: string;
  readonly tenantId?: string;
  readonly correlationId?: string;
  readonly idempotencyKey?: string;
  /** Ordering / partitioning key. */
  readonly partitionKey?: string;
  readonly headers?: Headers;
  /** Overrides the definition's and the worker's maxAttempts. */
  readonly maxAttempts?: number;
}

/** Enqueue typed jobs through a runtime (or a backend: anything that can publish jobs). */
export interface JobClient {
  /** Validate and publish now; resolves with the job record once the bus accepted it. */
  enqueue<S extends z.ZodType>(def: JobDefinition<S>, payload: z.input<S>, options?: EnqueueOptions): Promise<Job>;
  /** Publish to run at `runAt` (never earlier). */
  enqueueAt<S extends z.ZodType>(def: JobDefinition<S>, payload: z.input<S>, runAt: Date, options?: EnqueueOptions): Promise<Job>;
  /** Publish to run in `delayMs`. */
  enqueueIn<S extends z.ZodType>(def: JobDefinition<S>, payload: z.input<S>, delayMs: number, options?: EnqueueOptions): Promise<Job>;
  /**
   * Validate every item, then publish all in one batch. Nothing is published if any item
   * is invalid (the SchemaError names the item's index).
   */
  enqueueBulk<S extends z.ZodType>(
    def: JobDefinition<S>,
    items: readonly { readonly payload: z.input<S>; readonly options?: EnqueueOptions; readonly runAt?: Date }[],
  ): Promise<Job[]>;
  /** Publish an untyped job. */
  enqueueJob(input: JobInput): Promise<Job>;
  /** Build and check every untyped job, then publish all in one batch (nothing if one is invalid; the error names its index). */
  enqueueJobs(inputs: readonly JobInput[]): Promise<Job[]>;
}

/** Build one job per item; an invalid item's error message is prefixed with its index. */
function buildEach<T>(items: readonly T[], build: (item: T) => Job): Job[] {
  return items.map((item, i) => {
    try {
      return build(item);
    } catch (err) {
      if (err instanceof Error) err.message = `item ${i}: ${err.message}`;
      throw err;
    }
  });
}

/** Create a {@link JobClient} over anything with `enqueue` and `enqueueBatch` (a Runtime or a Backend). */
export function createJobClient(target: Pick<Runtime, 'enqueue' | 'enqueueBatch'>): JobClient {
  function build<S extends z.ZodType>(def: JobDefinition<S>, payload: z.input<S>, options: EnqueueOptions = {}, runAt?: Date): Job {
    return createJob({
      ...options,
      name: def.name,
      queue: def.queue,
      payload: def.encode(payload),
      contentType: 'application/json',
      maxAttempts: options.maxAttempts ?? def.maxAttempts ?? 0,
      ...(runAt && { runAt }),
    });
  }

  const client: JobClient = {
    async enqueue(def, payload, options) {
      const job = build(def, payload, options);
      await target.enqueue(job);
      return job;
    },
    async enqueueAt(def, payload, runAt, options) {
      if (!(runAt instanceof Date) || Number.isNaN(runAt.getTime())) throw new InvalidArgumentError('enqueueAt: runAt must be a valid Date');
      const job = build(def, payload, options, runAt);
      await target.enqueue(job);
      return job;
    },
    async enqueueIn(def, payload, delayMs, options) {
      if (!Number.isFinite(delayMs) || delayMs < 0) throw new InvalidArgumentError(`enqueueIn: delayMs must be >= 0, got ${delayMs}`);
      return client.enqueueAt(def, payload, new Date(Date.now() + delayMs), options);
    },
    async enqueueBulk(def, items) {
      const jobs = buildEach(items, (item) => build(def, item.payload, item.options, item.runAt));
      await target.enqueueBatch(jobs);
      return jobs;
    },
    async enqueueJobs(inputs) {
      const jobs = buildEach(inputs, createJob);
      await target.enqueueBatch(jobs);
      return jobs;
    },
    async enqueueJob(input) {
      const job = createJob(input);
      await target.enqueue(job);
      return job;
    },
  };
  return client;
}
