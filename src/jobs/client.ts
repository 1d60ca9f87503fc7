import type { z } from 'zod';
import { InvalidArgumentError, NotInitializedError } from '../errors.js';
import { createJob, type JobInput } from './job.js';
import type { JobDefinition } from './define.js';
import type { RegistryPayloads } from './schema/codec.js';
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

type Encoded = { bytes: Uint8Array; contentType: string };

/** Build one job per item; an invalid item's error message is prefixed with its index. */
function buildEach<T>(items: readonly T[], build: (item: T, i: number) => Job): Job[] {
  return items.map((item, i) => {
    try {
      return build(item, i);
    } catch (err) {
      if (err instanceof Error) err.message = `item ${i}: ${err.message}`;
      throw err;
    }
  });
}

/** Encode every item through the registry; the first failure (by index) is prefixed with its index. */
async function encodeEach<T>(items: readonly T[], encode: (item: T) => Promise<Encoded>): Promise<Encoded[]> {
  const settled = await Promise.allSettled(items.map(encode));
  return settled.map((r, i) => {
    if (r.status === 'fulfilled') return r.value;
    const err: unknown = r.reason;
    if (err instanceof Error) err.message = `item ${i}: ${err.message}`;
    throw err;
  });
}

/** Options of {@link createJobClient}. */
export interface JobClientOptions {
  /** Encodes the payloads of definitions that name a registry schema. */
  readonly registryPayloads?: RegistryPayloads;
}

/** Create a {@link JobClient} over anything with `enqueue` and `enqueueBatch` (a Runtime or a Backend). */
export function createJobClient(target: Pick<Runtime, 'enqueue' | 'enqueueBatch'>, clientOptions: JobClientOptions = {}): JobClient {
  const registryPayloads = clientOptions.registryPayloads;

  function build<S extends z.ZodType>(def: JobDefinition<S>, payload: z.input<S>, options: EnqueueOptions = {}, runAt?: Date, encoded?: Encoded): Job {
    return createJob({
      ...options,
      name: def.name,
      queue: def.queue,
      payload: encoded ? encoded.bytes : def.encode(payload),
      contentType: encoded ? encoded.contentType : 'application/json',
      maxAttempts: options.maxAttempts ?? def.maxAttempts ?? 0,
      ...(runAt && { runAt }),
    });
  }

  /** The registry encoding of a payload; only definitions with `registry` get here (zod-only stays synchronous). */
  function viaRegistry(def: JobDefinition, payload: unknown): Promise<Encoded> {
    if (!registryPayloads) {
      return Promise.reject(
        new NotInitializedError(`job "${def.name}" names a registry schema (subject "${def.registrySubject}"): pass schemaRegistry to createJobbus`),
      );
    }
    return registryPayloads.encode(def, payload);
  }

  async function buildOne<S extends z.ZodType>(def: JobDefinition<S>, payload: z.input<S>, options?: EnqueueOptions, runAt?: Date): Promise<Job> {
    if (!def.registry) return build(def, payload, options, runAt);
    return build(def, payload, options, runAt, await viaRegistry(def as unknown as JobDefinition, payload));
  }

  const client: JobClient = {
    async enqueue(def, payload, options) {
      const job = def.registry ? await buildOne(def, payload, options) : build(def, payload, options);
      await target.enqueue(job);
      return job;
    },
    async enqueueAt(def, payload, runAt, options) {
      if (!(runAt instanceof Date) || Number.isNaN(runAt.getTime())) throw new InvalidArgumentError('enqueueAt: runAt must be a valid Date');
      const job = def.registry ? await buildOne(def, payload, options, runAt) : build(def, payload, options, runAt);
      await target.enqueue(job);
      return job;
    },
    async enqueueIn(def, payload, delayMs, options) {
      if (!Number.isFinite(delayMs) || delayMs < 0) throw new InvalidArgumentError(`enqueueIn: delayMs must be >= 0, got ${delayMs}`);
      return client.enqueueAt(def, payload, new Date(Date.now() + delayMs), options);
    },
    async enqueueBulk(def, items) {
      // Registry payloads are encoded (and validated) first, all of them, so nothing is published when one fails.
      const encoded = def.registry ? await encodeEach(items, (item) => viaRegistry(def as unknown as JobDefinition, item.payload)) : [];
      const jobs = buildEach(items, (item, i) => build(def, item.payload, item.options, item.runAt, encoded[i]));
      await target.enqueueBatch(jobs);
      return jobs;
    },
    async enqueueJobs(inputs) {
      const jobs = buildEach(inputs, (input) => createJob(input));
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
