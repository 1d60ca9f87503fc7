import { z } from 'zod';
import { ValidationError } from '../errors.js';

/** Default settings of workers and backends, in milliseconds. */
export const DEFAULTS = Object.freeze({
  leaseTtlMs: 30_000,
  reserveTimeoutMs: 1_000,
  stopTimeoutMs: 10_000,
  concurrency: 1,
  retry: Object.freeze({
    maxAttempts: 5,
    initialBackoffMs: 1_000,
    maxBackoffMs: 60_000,
    attemptTimeoutMs: 30_000,
    jitter: 0.2,
  }),
  dlq: Object.freeze({ enabled: true }),
  group: 'jobbus',
});

const positiveMs = z.number().int().positive();

/** Retry policy of a worker. */
export const retryConfigSchema = z
  .object({
    /** Most attempts per job; a job's own non-zero maxAttempts wins. */
    maxAttempts: z.number().int().min(1).default(DEFAULTS.retry.maxAttempts),
    /** Backoff before the second attempt. */
    initialBackoffMs: positiveMs.default(DEFAULTS.retry.initialBackoffMs),
    /** Cap of the exponential backoff. */
    maxBackoffMs: positiveMs.default(DEFAULTS.retry.maxBackoffMs),
    /** One attempt is aborted (and counted as failed) after this long. */
    attemptTimeoutMs: positiveMs.default(DEFAULTS.retry.attemptTimeoutMs),
    /** Random spread of each backoff, as a fraction (0.2 = ±20 %). */
    jitter: z.number().min(0).max(1).default(DEFAULTS.retry.jitter),
  })
  .strict()
  .refine((r) => r.maxBackoffMs >= r.initialBackoffMs, {
    message: 'maxBackoffMs must be >= initialBackoffMs',
    path: ['maxBackoffMs'],
  });

/** Dead-letter settings of a worker. */
export const dlqConfigSchema = z
  .object({
    /** When false, exhausted jobs are dropped (logged) instead of dead-lettered. */
    enabled: z.boolean().default(DEFAULTS.dlq.enabled),
  })
  .strict();

/** A queue a worker consumes, with its priority and own concurrency cap. */
export const queueSpecSchema = z
  .object({
    /** Queue name. */
    name: z.string().trim().min(1),
    /** Higher is served first when several queues have work. Default 0. */
    priority: z.number().int().default(0),
    /** Most jobs of this queue running at once in this worker. Default: the worker's concurrency. */
    concurrency: z.number().int().positive().optional(),
  })
  .strict();

/** Limits for one job name within one worker. */
export const jobLimitSchema = z
  .object({
    /** Most jobs of this name running at once. */
    concurrency: z.number().int().positive().optional(),
    /** Most jobs of this name started per `perMs`. */
    rateLimit: z.object({ max: z.number().int().positive(), perMs: positiveMs }).strict().optional(),
  })
  .strict();

/** Worker configuration as validated by {@link parseWorkerConfig}. */
export const workerConfigSchema = z
  .object({
    /** Queues to consume: names, or `{ name, priority, concurrency }`. */
    queues: z
      .array(z.union([z.string().trim().min(1), queueSpecSchema]))
      .min(1)
      .transform((qs) => qs.map((q) => (typeof q === 'string' ? { name: q, priority: 0 } : q)))
      .refine((qs) => new Set(qs.map((q) => q.name)).size === qs.length, { message: 'queue names must be unique' }),
    /**
     * After a queue with waiting jobs was passed over this many times in a row for
     * higher-priority queues, it is served next (no starvation). Default 10.
     */
    fairnessLimit: z.number().int().positive().default(10),
    /** Per job name limits (concurrency, rate). */
    limits: z.record(z.string(), jobLimitSchema).default({}),
    /** Jobs run at once by this worker. */
    concurrency: z.number().int().positive().default(DEFAULTS.concurrency),
    /** Lease length; renewed automatically while a handler runs. */
    leaseTtlMs: positiveMs.default(DEFAULTS.leaseTtlMs),
    /** How long one reserve call waits for a job. */
    reserveTimeoutMs: positiveMs.default(DEFAULTS.reserveTimeoutMs),
    /** How long stop() lets in-flight jobs finish before aborting them. */
    stopTimeoutMs: z.number().int().min(0).default(DEFAULTS.stopTimeoutMs),
    retry: retryConfigSchema.default({
      maxAttempts: DEFAULTS.retry.maxAttempts,
      initialBackoffMs: DEFAULTS.retry.initialBackoffMs,
      maxBackoffMs: DEFAULTS.retry.maxBackoffMs,
      attemptTimeoutMs: DEFAULTS.retry.attemptTimeoutMs,
      jitter: DEFAULTS.retry.jitter,
    }),
    dlq: dlqConfigSchema.default({ enabled: DEFAULTS.dlq.enabled }),
  })
  .strict();

/** Worker configuration as written by users (defaults optional). */
export type WorkerConfigInput = z.input<typeof workerConfigSchema>;
/** Worker configuration with every default filled in. */
export type WorkerConfig = z.output<typeof workerConfigSchema>;
/** A queue spec with defaults filled in. */
export type QueueSpec = z.output<typeof queueSpecSchema>;
/** Per job name limits. */
export type JobLimit = z.output<typeof jobLimitSchema>;
/** Retry policy with defaults filled in. */
export type RetryConfig = z.output<typeof retryConfigSchema>;
/** DLQ settings with defaults filled in. */
export type DLQConfig = z.output<typeof dlqConfigSchema>;

/**
 * Validate a config against a zod schema, turning failures into one {@link ValidationError}
 * whose field is the first bad path and whose issues list them all.
 */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path.join('.') || what, message: i.message }));
  const first = issues[0]!;
  const detail = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  throw new ValidationError(first.path, `invalid ${what} (${detail})`, { issues, cause: result.error });
}

/**
 * Validate a worker config and fill in defaults. A `dlq.queueSuffix` (an option of older
 * versions) is refused with a pointer to where DLQ names are made now: a worker does not name
 * queues, so a suffix here could only disagree with the one that does.
 */
export function parseWorkerConfig(input: WorkerConfigInput): WorkerConfig {
  const dlq: unknown = (input as { dlq?: unknown } | undefined)?.dlq;
  if (typeof dlq === 'object' && dlq !== null && 'queueSuffix' in dlq) {
    throw new ValidationError(
      'dlq.queueSuffix',
      'is not a worker setting: DLQ names are made in one place; pass `names` (e.g. suffixQueueNames("-dead") or prefixQueueNames("dlq.")) to createJobbus, or to createEventBusBridge and createBusDLQStore',
    );
  }
  return parseConfig(workerConfigSchema, input, 'worker config');
}
