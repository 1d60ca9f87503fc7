/** Without the optional peer, the registry client fails with a NotInitializedError naming it. */
import { describe, expect, it, vi } from 'vitest';
import { NotInitializedError } from '../../src/errors.js';

vi.mock('@kafkajs/confluent-schema-registry/dist/schemaTypeResolver.js', () => {
  throw new Error("Cannot find package '@kafkajs/confluent-schema-registry'");
});

describe('schema registry client without its peer dependency', () => {
  it('is a NotInitializedError naming the package, raised on first use (not on import)', async () => {
    const { createSchemaRegistry } = await import('../../src/eventbus/schema/index.js');
    const registry = createSchemaRegistry({ host: 'http://127.0.0.1:1' });
    const err = await registry.register('s-value', { type: 'AVRO', schema: { type: 'record', name: 'X', fields: [] } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotInitializedError);
    expect((err as Error).message).toContain('@kafkajs/confluent-schema-registry');
  });

  it('bytes that are not registry-framed fail before any schema is needed', async () => {
    const { unframe } = await import('../../src/eventbus/schema/index.js');
    expect(() => unframe(Buffer.from([1, 0, 0, 0, 1]))).toThrow(/wrong magic byte 0x01/);
    expect(unframe(Buffer.from([0, 0, 0, 0, 9, 42]))).toMatchObject({ schemaId: 9 });
  });
});
