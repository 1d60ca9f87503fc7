/**
 * createSchemaRegistry: a Confluent-compatible registry client (Confluent, Apicurio's
 * `/apis/ccompat/v7`, Karapace, Redpanda). Knows subjects, schemas, ids and bytes.
 *
 * Caches: parsed schemas by id, forever (an id's schema never changes), so decoding a cached
 * id needs no registry; a pinned (subject, version) → id, forever; a subject's latest id for
 * `latestTtlMs`, and past it while the registry is unreachable (a stale latest beats failing).
 * Concurrent misses of one key share one request.
 */
import { JobbusError, NotFoundError, SchemaError } from '../../errors.js';
import { parseSchema, type ParsedSchema } from './engine.js';
import { createRegistryHttp, registryError } from './http.js';
import type {
  CompatibilityLevel,
  RegisteredSchema,
  RegistrySchemaSource,
  RegistrySchemaType,
  SchemaRegistry,
  SchemaRegistryOptions,
} from './types.js';
import { frame, unframe } from './wire.js';

interface SchemaAnswer {
  id?: number;
  version?: number;
  subject?: string;
  schema: string;
  schemaType?: string;
}

const TYPES: readonly RegistrySchemaType[] = ['AVRO', 'JSON', 'PROTOBUF'];

function typeOf(answer: SchemaAnswer): RegistrySchemaType {
  const t = (answer.schemaType ?? 'AVRO').toUpperCase();
  return (TYPES as readonly string[]).includes(t) ? (t as RegistrySchemaType) : 'AVRO';
}

const seg = encodeURIComponent;

/** Create a registry client. Nothing connects until the first call; the schema engine loads then too. */
export function createSchemaRegistry(options: SchemaRegistryOptions): SchemaRegistry {
  const http = createRegistryHttp(options);
  const latestTtlMs = options.latestTtlMs ?? 30_000;
  const byId = new Map<number, Promise<ParsedSchema>>();
  const pinned = new Map<string, Promise<number>>();
  const latest = new Map<string, { id: number; at: number }>();

  async function call<T>(what: string, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
    try {
      return await http.call<T>(method, path, body);
    } catch (err) {
      throw registryError(what, err);
    }
  }

  function toRegistered(subject: string, a: SchemaAnswer): RegisteredSchema {
    return { id: a.id!, version: a.version!, subject: a.subject ?? subject, type: typeOf(a), schema: a.schema };
  }

  async function getSchema(subject: string, version: number | 'latest' = 'latest'): Promise<RegisteredSchema> {
    const a = await call<SchemaAnswer>(`subject "${subject}" version ${version}`, 'GET', `subjects/${seg(subject)}/versions/${version}`);
    return toRegistered(subject, a);
  }

  /** The parsed schema of an id, from the cache or the registry (an unknown id is a SchemaError). */
  function schemaById(id: number): Promise<ParsedSchema> {
    let p = byId.get(id);
    if (!p) {
      p = (async () => {
        let a: SchemaAnswer;
        try {
          a = await call<SchemaAnswer>(`schema id ${id}`, 'GET', `schemas/ids/${id}`);
        } catch (err) {
          if (err instanceof NotFoundError) throw new SchemaError('', [{ path: '', message: `unknown schema id ${id}` }], { schemaId: id, cause: err });
          throw err;
        }
        return parseSchema(typeOf(a), a.schema, { schemaId: id });
      })();
      byId.set(id, p);
      // Failures are not cached: the registry may come back, the id may be registered later.
      p.catch(() => byId.delete(id));
    }
    return p;
  }

  async function idFor(subject: string, version: number | undefined): Promise<number> {
    if (version !== undefined) {
      const key = `${subject}\u0000${version}`;
      let p = pinned.get(key);
      if (!p) {
        p = getSchema(subject, version).then((s) => s.id);
        pinned.set(key, p);
        p.catch(() => pinned.delete(key));
      }
      return p;
    }
    const cached = latest.get(subject);
    if (cached && Date.now() - cached.at < latestTtlMs) return cached.id;
    try {
      const { id } = await getSchema(subject, 'latest');
      latest.set(subject, { id, at: Date.now() });
      return id;
    } catch (err) {
      if (cached && err instanceof JobbusError && err.retryable) return cached.id;
      throw err;
    }
  }

  return {
    getSchema,
    async register(subject, source: RegistrySchemaSource) {
      const text = typeof source.schema === 'string' ? source.schema : JSON.stringify(source.schema);
      await parseSchema(source.type, text); // refuse an unparsable schema before the registry sees it
      const body = {
        ...(source.type !== 'AVRO' && { schemaType: source.type }),
        schema: text,
        ...(source.references && { references: source.references }),
      };
      const { id } = await call<{ id: number }>(`a new version of subject "${subject}"`, 'POST', `subjects/${seg(subject)}/versions`, body);
      const found = await call<SchemaAnswer>(`the lookup of subject "${subject}"`, 'POST', `subjects/${seg(subject)}`, body);
      latest.delete(subject);
      return { id, version: found.version!, subject, type: source.type, schema: text };
    },
    async setCompatibility(subject, level) {
      await call(`compatibility ${level} for "${subject}"`, 'PUT', `config/${seg(subject)}`, { compatibility: level });
    },
    async getCompatibility(subject) {
      try {
        const a = await call<{ compatibilityLevel: CompatibilityLevel }>(`the config of "${subject}"`, 'GET', `config/${seg(subject)}`);
        return a.compatibilityLevel;
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        const a = await call<{ compatibilityLevel: CompatibilityLevel }>('the global config', 'GET', 'config');
        return a.compatibilityLevel;
      }
    },
    async encode(subject, value, encodeOptions = {}) {
      const id = await idFor(subject, encodeOptions.version);
      const schema = await schemaById(id);
      const issues = schema.issues(value);
      if (issues.length > 0 && (encodeOptions.validate !== false || schema.type !== 'JSON')) throw new SchemaError('', issues, { subject, schemaId: id });
      // Unvalidated JSON Schema data: written as JSON text, which needs no match.
      if (issues.length > 0) return frame(id, Buffer.from(JSON.stringify(value)));
      try {
        return frame(id, schema.toBody(value));
      } catch (cause) {
        throw new SchemaError('', [{ path: '', message: (cause as Error).message }], { subject, schemaId: id, cause });
      }
    },
    async decode(bytes, decodeOptions = {}) {
      const { schemaId, body } = unframe(bytes);
      const schema = await schemaById(schemaId);
      let value: unknown;
      try {
        // JSON Schema bodies are parsed here so that invalid data reports each field below.
        value = schema.type === 'JSON' ? JSON.parse(body.toString('utf8')) : schema.fromBody(body);
      } catch (cause) {
        throw new SchemaError('', [{ path: '', message: `cannot decode with schema id ${schemaId}: ${(cause as Error).message}` }], { schemaId, cause });
      }
      const issues = schema.type === 'JSON' ? schema.issues(value) : [];
      if (issues.length > 0 && decodeOptions.validate !== false) throw new SchemaError('', issues, { schemaId });
      return { value, schemaId, issues };
    },
    async healthCheck() {
      await call('the health check', 'GET', 'config');
    },
  };
}
