/**
 * The schema registry client against the real registry (Apicurio's Confluent-compatible API
 * from the test setup): register, compatibility, encode/decode in the wire format for Avro,
 * JSON Schema and Protobuf, the errors, and the cache by id while the registry is cut off.
 */
import { describe, expect, it } from 'vitest';
import { createSchemaRegistry } from '../../src/eventbus/schema/index.js';
import { ConflictError, SchemaError, UnavailableError } from '../../src/errors.js';
import { registryUrl, uniqueName } from '../setup/env.js';
import { startProxy } from './proxy.js';
import { signupAvro } from './schemas.js';

const avro = signupAvro;
const jsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: { email: { type: 'string' }, plan: { type: 'integer' } },
  required: ['email'],
};
const proto = 'syntax = "proto3";\npackage dev.jobbus.test;\nmessage Signup { string email = 1; int32 plan = 2; }\n';

describe('schema registry client (real registry)', () => {
  const registry = createSchemaRegistry({ host: registryUrl() });

  it('registers Avro, encodes in the wire format (magic byte 0 + id) and decodes by id', async () => {
    const subject = uniqueName('reg-avro-value');
    const { id, version } = await registry.register(subject, { type: 'AVRO', schema: avro });
    expect(version).toBe(1);
    const bytes = await registry.encode(subject, { email: 'ada@example.com', plan: 2 });
    expect(bytes[0]).toBe(0);
    expect(Buffer.from(bytes).readInt32BE(1)).toBe(id);
    const decoded = await registry.decode(bytes);
    expect(decoded.schemaId).toBe(id);
    expect({ ...(decoded.value as object) }).toEqual({ email: 'ada@example.com', plan: 2 });
    expect((await registry.getSchema(subject)).id).toBe(id);
  });

  it('JSON Schema and Protobuf round-trip too', async () => {
    const js = uniqueName('reg-json-value');
    await registry.register(js, { type: 'JSON', schema: jsonSchema });
    expect((await registry.decode(await registry.encode(js, { email: 'a@b.c', plan: 1 }))).value).toEqual({ email: 'a@b.c', plan: 1 });
    const pb = uniqueName('reg-proto-value');
    await registry.register(pb, { type: 'PROTOBUF', schema: proto });
    const pbBytes = await registry.encode(pb, { email: 'a@b.c', plan: 7 });
    // Confluent's Protobuf framing: message indexes after the id ([0], the first message: one 0 byte), then the message.
    expect(pbBytes[5]).toBe(0);
    expect(pbBytes[6]).toBe(0x0a); // field 1 (email), length-delimited
    const decoded = (await registry.decode(pbBytes)).value as { email: string; plan: number };
    expect([decoded.email, decoded.plan]).toEqual(['a@b.c', 7]);
    // The long form of [0] (count 1, index 0) decodes too; another message's index is refused with the details.
    const long = Buffer.concat([Buffer.from(pbBytes.subarray(0, 5)), Buffer.from([2, 0]), Buffer.from(pbBytes.subarray(6))]);
    expect(((await registry.decode(long)).value as { email: string }).email).toBe('a@b.c');
    const other = Buffer.concat([Buffer.from(pbBytes.subarray(0, 5)), Buffer.from([2, 2]), Buffer.from(pbBytes.subarray(6))]);
    await expect(registry.decode(other)).rejects.toThrow(/message indexes \[1\]/);
  });

  it('invalid data is a SchemaError naming the subject and the field (Avro, JSON Schema, Protobuf)', async () => {
    const subjects = { AVRO: uniqueName('bad-avro-value'), JSON: uniqueName('bad-json-value'), PROTOBUF: uniqueName('bad-pb-value') };
    await registry.register(subjects.AVRO, { type: 'AVRO', schema: avro });
    await registry.register(subjects.JSON, { type: 'JSON', schema: jsonSchema });
    await registry.register(subjects.PROTOBUF, { type: 'PROTOBUF', schema: proto });
    for (const subject of Object.values(subjects)) {
      const err = await registry.encode(subject, { email: 42, plan: 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SchemaError);
      const e = err as SchemaError;
      expect(e.subject).toBe(subject);
      expect(e.field).toBe('payload.email');
      expect(e.message).toContain(subject);
      expect(e.retryable).toBe(false);
    }
    const missing = (await registry.encode(subjects.JSON, { plan: 1 }).catch((e: unknown) => e)) as SchemaError;
    expect(missing.field).toBe('payload.email');
  });

  it('wrong magic byte, short bytes and an unknown id are SchemaErrors with the details', async () => {
    const wrong = (await registry.decode(Buffer.from('{"email":"x"}')).catch((e: unknown) => e)) as SchemaError;
    expect(wrong).toBeInstanceOf(SchemaError);
    expect(wrong.message).toContain('wrong magic byte 0x7b');
    const short = (await registry.decode(Buffer.from([0, 0])).catch((e: unknown) => e)) as SchemaError;
    expect(short.message).toContain('not registry-framed');
    const unknown = (await registry.decode(Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 1])).catch((e: unknown) => e)) as SchemaError;
    expect(unknown).toBeInstanceOf(SchemaError);
    expect(unknown.schemaId).toBe(0x7ffffff0);
    expect(unknown.message).toContain('unknown schema id 2147483632');
  });

  it('evolution: a compatible version registers and old bytes still decode; an incompatible one is a ConflictError with the registry message', async () => {
    const subject = uniqueName('evolve-value');
    const v1 = await registry.register(subject, { type: 'AVRO', schema: avro });
    const old = await registry.encode(subject, { email: 'old@example.com', plan: 1 });
    const withDefault = { ...avro, fields: [...avro.fields, { name: 'source', type: 'string', default: 'web' }] };
    const v2 = await registry.register(subject, { type: 'AVRO', schema: withDefault });
    expect(v2.version).toBe(2);
    expect(v2.id).not.toBe(v1.id);
    expect({ ...((await registry.decode(old)).value as object) }).toEqual({ email: 'old@example.com', plan: 1 });
    expect(Buffer.from(await registry.encode(subject, { email: 'n@example.com', plan: 1, source: 'app' })).readInt32BE(1)).toBe(v2.id);
    // Pinned to version 1: the new field is not written.
    expect(Buffer.from(await registry.encode(subject, { email: 'p@example.com', plan: 1 }, { version: 1 })).readInt32BE(1)).toBe(v1.id);

    const noDefault = { ...avro, fields: [...avro.fields, { name: 'required', type: 'string' }] };
    const err = await registry.register(subject, { type: 'AVRO', schema: noDefault }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toMatch(/subject ".*evolve-value.*".*incompatible/i);
  });

  it('compatibility level per subject: NONE lets an incompatible version in', async () => {
    const subject = uniqueName('compat-value');
    await registry.register(subject, { type: 'AVRO', schema: avro });
    expect(await registry.getCompatibility(subject)).toBe('BACKWARD');
    await registry.setCompatibility(subject, 'NONE');
    expect(await registry.getCompatibility(subject)).toBe('NONE');
    const noDefault = { ...avro, fields: [...avro.fields, { name: 'required', type: 'string' }] };
    expect((await registry.register(subject, { type: 'AVRO', schema: noDefault })).version).toBe(2);
  });

  it('cut off: cached ids still decode; an uncached id is a retryable UnavailableError; it decodes once the registry is back', async () => {
    const proxy = await startProxy(registryUrl());
    const client = createSchemaRegistry({ host: proxy.url, timeoutMs: 2_000 });
    try {
      const cachedSubject = uniqueName('cut-cached-value');
      const otherSubject = uniqueName('cut-other-value');
      await registry.register(cachedSubject, { type: 'AVRO', schema: avro });
      await registry.register(otherSubject, { type: 'JSON', schema: jsonSchema });
      const cached = await client.encode(cachedSubject, { email: 'c@example.com', plan: 1 });
      const other = await registry.encode(otherSubject, { email: 'o@example.com' });
      await client.healthCheck();

      await proxy.cut();
      expect({ ...((await client.decode(cached)).value as object) }).toEqual({ email: 'c@example.com', plan: 1 });
      const err = await client.decode(other).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnavailableError);
      expect((err as UnavailableError).retryable).toBe(true);
      await expect(client.healthCheck()).rejects.toBeInstanceOf(UnavailableError);

      await proxy.restore();
      expect((await client.decode(other)).value).toEqual({ email: 'o@example.com' });
    } finally {
      await proxy.close();
    }
  });
});
