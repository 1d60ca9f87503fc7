/**
 * The schema languages (Avro via avsc, JSON Schema via ajv, Protobuf via protobufjs) as
 * `@kafkajs/confluent-schema-registry` wraps them, loaded on first use: the package is an
 * optional peer dependency. Only its schema engine is used; HTTP and the wire framing are ours,
 * so that every registry answer maps to a precise jobbus error.
 */
import { InvalidArgumentError, NotInitializedError, SchemaError } from '../../errors.js';
import type { RegistrySchemaType } from './types.js';

/** One parsed schema: validates, serialises and parses bodies (no framing). */
export interface ParsedSchema {
  readonly type: RegistrySchemaType;
  /** Problems of `value` against the schema; empty when valid. */
  issues(value: unknown): { path: string; message: string }[];
  toBody(value: unknown): Buffer;
  fromBody(body: Buffer): unknown;
}

interface EngineSchema {
  toBuffer(payload: unknown): Buffer;
  fromBuffer(buffer: Buffer): unknown;
  isValid(payload: unknown, opts?: { errorHook: (path: unknown, value: unknown, type?: unknown) => void }): boolean;
}
type FromConfluent = (schema: { type: string; schema: string }, options?: object) => EngineSchema;

const PEER = '@kafkajs/confluent-schema-registry';
let loading: Promise<FromConfluent> | undefined;

/** Load the peer's schema engine once; a NotInitializedError naming the package when it is missing. */
export function loadEngine(): Promise<FromConfluent> {
  loading ??= (async () => {
    try {
      const mod = (await import('@kafkajs/confluent-schema-registry/dist/schemaTypeResolver.js')) as {
        schemaFromConfluentSchema?: FromConfluent;
        default?: { schemaFromConfluentSchema: FromConfluent };
      };
      const fn = mod.schemaFromConfluentSchema ?? mod.default?.schemaFromConfluentSchema;
      if (typeof fn !== 'function') throw new Error(`${PEER} has no schemaFromConfluentSchema (expected ~3.9)`);
      return fn;
    } catch (cause) {
      loading = undefined; // a later install may fix it
      throw new NotInitializedError(`the schema registry client needs the optional peer dependency "${PEER}" (~3.9): install it with \`npm install ${PEER}@~3.9\``, {
        cause,
      });
    }
  })();
  return loading;
}

/** A JSON Schema `required` error names the field only in its message. */
function jsonIssue(pointer: string, message: string): { path: string; message: string } {
  const base = pointer.split('/').filter(Boolean).join('.');
  const missing = /required property '([^']+)'/.exec(message)?.[1];
  return { path: missing ? (base ? `${base}.${missing}` : missing) : base, message };
}

function describeValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Turn one engine error-hook call into an issue, per schema language. */
function issueOf(type: RegistrySchemaType, path: unknown, value: unknown, schemaType: unknown): { path: string; message: string } {
  const parts = Array.isArray(path) ? path.map(String) : [String(path)];
  if (type === 'JSON') return jsonIssue(parts[0] ?? '', typeof value === 'string' ? value : 'invalid');
  if (type === 'PROTOBUF') {
    const text = parts[0] ?? 'invalid';
    const at = text.indexOf(': ');
    return at > 0 ? { path: text.slice(0, at), message: text.slice(at + 2) } : { path: '', message: text };
  }
  const typeName = (schemaType as { typeName?: string } | undefined)?.typeName;
  return { path: parts.join('.'), message: `invalid value ${describeValue(value)}${typeName ? ` for Avro type ${typeName}` : ''}` };
}

/** Parse a schema text; an unparsable one is an InvalidArgumentError (when registering) or a SchemaError (when decoding). */
export async function parseSchema(type: RegistrySchemaType, text: string, forDecode?: { schemaId: number }): Promise<ParsedSchema> {
  const fromConfluent = await loadEngine();
  let engine: EngineSchema;
  try {
    // detailedErrorPaths: ajv hands each error's message to the hook, not only its path.
    engine = fromConfluent({ type, schema: text }, { JSON: { detailedErrorPaths: true, allErrors: true } });
  } catch (cause) {
    const message = `not a valid ${type} schema: ${(cause as Error).message}`;
    if (forDecode) throw new SchemaError('', [{ path: '', message }], { schemaId: forDecode.schemaId, cause });
    throw new InvalidArgumentError(message, { cause });
  }
  return {
    type,
    issues(value) {
      const found: { path: string; message: string }[] = [];
      const valid = engine.isValid(value, { errorHook: (path, v, t) => found.push(issueOf(type, path, v, t)) });
      if (!valid && found.length === 0) found.push({ path: '', message: `does not match the ${type} schema` });
      return valid ? [] : found;
    },
    // Protobuf bodies start with the message indexes (Confluent's format; the peer omits them on write).
    toBody: (value) => (type === 'PROTOBUF' ? Buffer.concat([FIRST_MESSAGE, engine.toBuffer(value)]) : engine.toBuffer(value)),
    fromBody: (body) => engine.fromBuffer(type === 'PROTOBUF' ? afterMessageIndexes(body) : body),
  };
}

/** Message indexes `[0]` in their short form: the schema's first message. */
const FIRST_MESSAGE = Buffer.from([0]);

/** Read one zigzag varint at `at`; returns value and next offset. */
function zigzag(buf: Buffer, at: number): [number, number] {
  let raw = 0;
  let shift = 0;
  let i = at;
  for (;;) {
    if (i >= buf.length || shift > 28) throw new Error('truncated message indexes');
    const b = buf[i++]!;
    raw |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
  }
  return [(raw >>> 1) ^ -(raw & 1), i];
}

/** Skip the message indexes; only the first message of a schema (`[0]`, or none) is supported. */
function afterMessageIndexes(body: Buffer): Buffer {
  const [count, start] = zigzag(body, 0);
  let at = start;
  const indexes: number[] = [];
  for (let k = 0; k < count; k++) {
    let index: number;
    [index, at] = zigzag(body, at);
    indexes.push(index);
  }
  if (indexes.some((i) => i !== 0) || indexes.length > 1) {
    throw new Error(`message indexes [${indexes.join(', ')}] name a message other than the schema's first, which this client does not decode`);
  }
  return body.subarray(at);
}
