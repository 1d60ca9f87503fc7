/**
 * Job payloads through a schema registry: encoding on enqueue (registering the definition's
 * schema on first use), and decoding before the handler, with the definition's mode.
 *
 * Errors: data that does not match is a SchemaError naming the job, the subject and the field
 * (enqueue: nothing is published; consume: the worker dead-letters it, reason `schema: …`, no
 * retries spent). A registry that cannot be reached for a schema not cached yet is, on consume,
 * a RetryLaterError (the job runs once the registry is back, spending no attempt); on enqueue
 * it is the UnavailableError itself (retryable: the caller decides).
 */
import type { Logger } from 'pino';
import { JobbusError, RetryLaterError, SchemaError } from '../../errors.js';
import type { RegistrySchemaType, SchemaRegistry } from '../../eventbus/schema/types.js';
import type { JobDefinition, RegistrableJob } from '../define.js';
import { REGISTRY_CONTENT_TYPES, type JobRegistrySchema } from './types.js';

/** Warnings of `warn`-mode definitions: payloads that did not match but went through. */
export interface RegistryWarningCounts {
  /** Invalid payloads published on enqueue. */
  readonly enqueue: number;
  /** Invalid payloads handed to a handler. */
  readonly consume: number;
}

/** Options of {@link createRegistryPayloads}. */
export interface RegistryPayloadsOptions {
  readonly registry: SchemaRegistry;
  readonly logger: Logger;
  /** How long a job waits when the registry is unreachable for its schema, ms. Default 2 000. */
  readonly unavailableRetryMs?: number;
}

/** Registry-framed payloads for the job definitions that name a registry schema. */
export interface RegistryPayloads {
  /** Validate and encode a payload of `def`. */
  encode(def: JobDefinition, payload: unknown): Promise<{ bytes: Uint8Array; contentType: string }>;
  /** `def` with a decode that goes through the registry (`def` itself when it names none). */
  bind(def: RegistrableJob): RegistrableJob;
  readonly warnings: RegistryWarningCounts;
}

type Issues = readonly { path: string; message: string }[];
const BRACE = 0x7b; // '{': a warn-mode payload that could not be framed went out as plain JSON

/** Create the payload codec of one jobbus instance. */
export function createRegistryPayloads(options: RegistryPayloadsOptions): RegistryPayloads {
  const { registry, logger } = options;
  const retryMs = options.unavailableRetryMs ?? 2_000;
  const counts = { enqueue: 0, consume: 0 };
  // Registered once per definition (name → promise of the version to encode with); failures are retried next time.
  const registered = new Map<string, Promise<number | undefined>>();

  function versionFor(name: string, subject: string, reg: JobRegistrySchema): Promise<number | undefined> {
    if (reg.version !== undefined || reg.schema === undefined) return Promise.resolve(reg.version);
    let p = registered.get(name);
    if (!p) {
      p = (async () => {
        if (reg.compatibility) await registry.setCompatibility(subject, reg.compatibility);
        const schema = reg.schema!;
        return (await registry.register(subject, { type: reg.type, schema, ...(reg.references && { references: reg.references }) })).version;
      })();
      registered.set(name, p);
      p.catch(() => registered.delete(name));
    }
    return p;
  }

  function jobError(def: { name: string }, subject: string | undefined, err: SchemaError): SchemaError {
    return new SchemaError(def.name, err.issues, { cause: err, ...(subject && { subject }), ...(err.schemaId && { schemaId: err.schemaId }) });
  }

  function warn(kind: 'enqueue' | 'consume', def: { name: string }, subject: string | undefined, issues: Issues): void {
    counts[kind] += 1;
    logger.warn({ job: def.name, subject, issues }, `job "${def.name}": payload does not match its registry schema (mode warn, ${kind} goes on)`);
  }

  async function encode(def: JobDefinition, payload: unknown): Promise<{ bytes: Uint8Array; contentType: string }> {
    const reg = def.registry!;
    const subject = def.registrySubject!;
    validated(def, payload); // zod first, as without a registry
    const version = await versionFor(def.name, subject, reg);
    const contentType = REGISTRY_CONTENT_TYPES[reg.type];
    try {
      return { bytes: await registry.encode(subject, payload, version === undefined ? {} : { version }), contentType };
    } catch (err) {
      if (!(err instanceof SchemaError)) throw err;
      if (reg.mode !== 'warn') throw jobError(def, subject, err);
      warn('enqueue', def, subject, err.issues);
      return fallback(reg.type, subject, payload, version);
    }
  }

  /** Warn mode: JSON Schema data is framed unvalidated; Avro/Protobuf cannot write it, so it goes as JSON. */
  async function fallback(type: RegistrySchemaType, subject: string, payload: unknown, version: number | undefined) {
    if (type === 'JSON') {
      return { bytes: await registry.encode(subject, payload, { validate: false, ...(version !== undefined && { version }) }), contentType: REGISTRY_CONTENT_TYPES.JSON };
    }
    return { bytes: new TextEncoder().encode(JSON.stringify(payload)), contentType: 'application/json' };
  }

  async function decode(def: RegistrableJob, bytes: Uint8Array): Promise<unknown> {
    const warnMode = def.registry?.mode === 'warn';
    let value: unknown;
    try {
      const decoded = await registry.decode(bytes, { validate: !warnMode });
      if (decoded.issues.length > 0) warn('consume', def, def.registrySubject, decoded.issues);
      value = decoded.value;
    } catch (err) {
      if (err instanceof SchemaError) {
        if (warnMode && bytes[0] === BRACE) {
          warn('consume', def, def.registrySubject, err.issues);
          value = parseJson(def, bytes, err);
        } else throw jobError(def, def.registrySubject, err);
      } else if (err instanceof JobbusError && err.retryable) {
        throw new RetryLaterError(retryMs, `schema registry unavailable for job "${def.name}": ${err.message}`, { cause: err });
      } else throw err;
    }
    return validated(def, value);
  }

  /** The zod schema (when the definition has one) validates what the registry decoded. */
  function validated(def: RegistrableJob, value: unknown): unknown {
    const schema = (def as Partial<JobDefinition>).schema;
    if (!schema) return value;
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    const issues = r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
    throw new SchemaError(def.name, issues, { cause: r.error, ...(def.registrySubject && { subject: def.registrySubject }) });
  }

  return {
    encode,
    bind(def) {
      if (!def.registry) return def;
      return { ...def, decode: (bytes: Uint8Array) => decode(def, bytes) } as RegistrableJob;
    },
    warnings: counts,
  };
}

function parseJson(def: RegistrableJob, bytes: Uint8Array, err: SchemaError): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new SchemaError(def.name, err.issues, { cause: err, ...(def.registrySubject && { subject: def.registrySubject }) });
  }
}
