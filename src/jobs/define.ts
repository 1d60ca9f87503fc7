import type { Logger } from 'pino';
import { z } from 'zod';
import { ConflictError, InvalidArgumentError, NotInitializedError, SchemaError } from '../errors.js';
import { registrySubjectOf } from './schema/subject.js';
import type { JobRegistrySchema } from './schema/types.js';
import type { Job } from './types.js';

/**
 * How long to wait before the next attempt. `attempt` is the zero-based attempt that just
 * failed. A function gets the error too and returns milliseconds.
 */
export type BackoffPolicy =
  | { readonly type: 'exponential'; readonly initialMs?: number; readonly maxMs?: number; readonly jitter?: number }
  | { readonly type: 'fixed'; readonly delayMs: number; readonly jitter?: number }
  | ((attempt: number, error: unknown) => number);

/** At most `max` jobs started per `perMs` milliseconds (per worker process). */
export interface RateLimit {
  readonly max: number;
  readonly perMs: number;
}

/** What a job handler (and middleware) receives beside the payload. */
export interface JobContext {
  /** The job as it arrived. */
  readonly job: Job;
  /** Aborted when the attempt times out, the lease is lost, or the worker stops past its stop timeout. */
  readonly signal: AbortSignal;
  /** Zero-based attempt (same as `job.attempt`). */
  readonly attempt: number;
  /** Attempts this job may use in all. */
  readonly maxAttempts: number;
  /** How often the transport has delivered this message. */
  readonly deliveryCount: number;
  /** Extend the lease now (it is also renewed automatically while the handler runs). */
  renew(): Promise<void>;
  /** Logger bound to this job (job id, name, queue, attempt, correlation id). */
  readonly logger: Logger;
  /** Values middleware hands to the handler (a transaction, a tenant, a timer). */
  readonly state: Map<string, unknown>;
}

/** A typed handler: gets the payload already parsed by the definition's schema. */
export type TypedJobHandler<T> = (payload: T, context: JobContext) => Promise<void> | void;

/** What a worker needs of a job definition, whatever its payload type. */
export interface RegistrableJob {
  readonly name: string;
  readonly queue: string;
  readonly maxAttempts?: number;
  readonly timeoutMs?: number;
  readonly backoff?: BackoffPolicy;
  readonly concurrency?: number;
  readonly rateLimit?: RateLimit;
  /** Decode and validate a payload; throws SchemaError. A registry-bound definition returns a promise. */
  decode(bytes: Uint8Array): unknown;
  /** The registry schema, when the payload goes through a schema registry. */
  readonly registry?: JobRegistrySchema;
  /** The registry subject (resolved from `registry` at definition). */
  readonly registrySubject?: string;
  /** The typed handler. */
  readonly handler: (payload: never, context: JobContext) => Promise<void> | void;
}

/** What {@link defineJob} takes. */
export interface JobDefinitionInput<S extends z.ZodType> {
  /** Job name (selects the handler). */
  readonly name: string;
  /** Queue the jobs go to. */
  readonly queue: string;
  /** zod schema of the payload: validated on enqueue and again before the handler. */
  readonly schema: S;
  /**
   * A schema registry schema: the payload is encoded in the registry wire format (and
   * validated by it) on enqueue, decoded before the handler. Needs `createJobbus({ schemaRegistry })`.
   * With `schema` too, zod validates first (and the registry second).
   */
  readonly registry?: JobRegistrySchema;
  /** Attempts per job (overrides the worker's `retry.maxAttempts`). */
  readonly maxAttempts?: number;
  /** Per-attempt timeout, ms (overrides the worker's `retry.attemptTimeoutMs`). */
  readonly timeoutMs?: number;
  /** Backoff between attempts (overrides the worker's). */
  readonly backoff?: BackoffPolicy;
  /** Most jobs of this name running at once in one worker. */
  readonly concurrency?: number;
  /** Most jobs of this name started per period in one worker. */
  readonly rateLimit?: RateLimit;
  /** The handler. */
  readonly handler: TypedJobHandler<z.output<S>>;
}

/**
 * What {@link defineJob} takes for a job whose payload only a registry schema describes; give
 * the payload type as the type argument: `defineJob<Signup>({ …, registry: { type: 'AVRO', schema } })`.
 */
export interface RegistryJobDefinitionInput<T> extends Omit<JobDefinitionInput<z.ZodType<T>>, 'schema' | 'registry'> {
  readonly schema?: undefined;
  readonly registry: JobRegistrySchema;
}

/** A typed job: its payload type flows from the schema into enqueue and into the handler. */
export interface JobDefinition<S extends z.ZodType = z.ZodType> extends JobDefinitionInput<S> {
  /** The registry subject, when `registry` is set. */
  readonly registrySubject?: string;
  /** Validate a payload and encode it as JSON bytes; throws {@link SchemaError}. */
  encode(payload: z.input<S>): Uint8Array;
  /** Decode JSON bytes and validate them; throws {@link SchemaError}. */
  decode(bytes: Uint8Array): z.output<S>;
}

const registry = new Map<string, JobDefinition>();
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function issuesOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

/**
 * Define a typed job and add it to the registry ({@link definitions}). Throws a
 * ConflictError when another definition already uses the name.
 */
export function defineJob<T = unknown>(input: RegistryJobDefinitionInput<T>): JobDefinition<z.ZodType<T>>;
// The zod overload is last: `Parameters<typeof defineJob<S>>` (used by wrappers) reads the last one.
export function defineJob<S extends z.ZodType>(input: JobDefinitionInput<S>): JobDefinition<S>;
export function defineJob<S extends z.ZodType>(given: JobDefinitionInput<S> | RegistryJobDefinitionInput<z.output<S>>): JobDefinition<S> {
  // Registry-only: a pass-through zod schema, so one code path serves both (the registry validates).
  const input = (given.schema === undefined && given.registry ? { ...given, schema: z.custom<z.output<S>>(() => true) } : given) as JobDefinitionInput<S>;
  const registrySubject = input.registry ? registrySubjectOf(input.name, input.queue, input.registry) : undefined;
  for (const f of ['name', 'queue'] as const) {
    if (typeof input[f] !== 'string' || input[f].trim() === '') {
      throw new InvalidArgumentError(`defineJob: ${f} must be a non-empty string`);
    }
  }
  if (typeof input.handler !== 'function') throw new InvalidArgumentError(`defineJob "${input.name}": handler must be a function`);
  if (!input.schema || typeof (input.schema as { safeParse?: unknown }).safeParse !== 'function') {
    throw new InvalidArgumentError(`defineJob "${input.name}": schema must be a zod schema`);
  }
  if (input.maxAttempts !== undefined && (!Number.isInteger(input.maxAttempts) || input.maxAttempts < 1)) {
    throw new InvalidArgumentError(`defineJob "${input.name}": maxAttempts must be an integer >= 1`);
  }
  if (input.concurrency !== undefined && (!Number.isInteger(input.concurrency) || input.concurrency < 1)) {
    throw new InvalidArgumentError(`defineJob "${input.name}": concurrency must be an integer >= 1`);
  }
  if (registry.has(input.name)) {
    throw new ConflictError(`a job named "${input.name}" is already defined (queue "${registry.get(input.name)!.queue}")`);
  }
  const parse = (value: unknown): z.output<S> => {
    const r = input.schema.safeParse(value);
    if (!r.success) throw new SchemaError(input.name, issuesOf(r.error), { cause: r.error });
    return r.data as z.output<S>;
  };
  const viaRegistry = (): never => {
    throw new NotInitializedError(
      `job "${input.name}" is encoded through a schema registry (subject "${registrySubject}"): enqueue and run it through createJobbus({ schemaRegistry })`,
    );
  };
  const def: JobDefinition<S> = {
    ...input,
    ...(registrySubject !== undefined && { registrySubject }),
    encode(payload) {
      if (registrySubject !== undefined) return viaRegistry();
      parse(payload);
      return encoder.encode(JSON.stringify(payload));
    },
    decode(bytes) {
      if (registrySubject !== undefined) return viaRegistry();
      let value: unknown;
      try {
        value = JSON.parse(decoder.decode(bytes));
      } catch (err) {
        throw new SchemaError(input.name, [{ path: '', message: `not valid UTF-8 JSON (${(err as Error).message})` }], { cause: err });
      }
      return parse(value);
    },
  };
  registry.set(input.name, def as unknown as JobDefinition);
  return def;
}

/** Every job defined in this process, for introspection (CLI, docs, health pages). */
export function definitions(): readonly JobDefinition[] {
  return [...registry.values()];
}

/** Remove a definition from the registry (tests, hot reload). Returns whether it existed. */
export function forgetDefinition(name: string): boolean {
  return registry.delete(name);
}
