/**
 * The schema registry client: a Confluent-compatible registry (subjects, versions,
 * compatibility) and the wire format (magic byte, schema id, body). Its schema engine is the
 * optional peer `@kafkajs/confluent-schema-registry` ~3.9, loaded on first use.
 */
export { createSchemaRegistry } from './registry.js';
export { frame, unframe, MAGIC_BYTE } from './wire.js';
export type {
  CompatibilityLevel,
  RegisteredSchema,
  RegistryAuth,
  RegistryDecoded,
  RegistryDecodeOptions,
  RegistryEncodeOptions,
  RegistrySchemaReference,
  RegistrySchemaSource,
  RegistrySchemaType,
  RegistryTlsOptions,
  SchemaRegistry,
  SchemaRegistryOptions,
} from './types.js';
