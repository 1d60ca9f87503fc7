import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { registryUrl, uniqueName } from '../setup/env.js';

describe('smoke: schema registry (Confluent-compatible API)', () => {
  const registry = new SchemaRegistry({ host: registryUrl() });

  it('registers an Avro schema, fetches it, encodes and decodes', async () => {
    const subject = uniqueName('smoke-avro-value');
    const schema = {
      type: 'record',
      name: 'SmokeJob',
      namespace: 'dev.jobbus.smoke',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'attempt', type: 'int' },
      ],
    };
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
    expect(id).toBeGreaterThan(0);
    expect(await registry.getLatestSchemaId(subject)).toBe(id);
    const fetched = await registry.getSchema(id);
    expect(fetched).toBeDefined();

    const bytes = await registry.encode(id, { id: 'j-1', attempt: 2 });
    expect(bytes[0]).toBe(0); // Confluent wire format: magic byte, then the 4-byte schema id
    expect(bytes.readInt32BE(1)).toBe(id);
    expect(await registry.decode(bytes)).toEqual({ id: 'j-1', attempt: 2 });
  });

  it('registers a JSON Schema and validates on encode', async () => {
    const subject = uniqueName('smoke-json-value');
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { id: { type: 'string' } },
      required: ['id'],
    };
    const { id } = await registry.register({ type: SchemaType.JSON, schema: JSON.stringify(schema) }, { subject });
    const bytes = await registry.encode(id, { id: 'j-2' });
    expect(await registry.decode(bytes)).toEqual({ id: 'j-2' });
    await expect(registry.encode(id, { id: 42 })).rejects.toThrow();
  });
});
