/** How a job definition names its registry schema (see `defineJob({ registry })`). */
import type { CompatibilityLevel, RegistrySchemaReference, RegistrySchemaType } from '../../eventbus/schema/types.js';

/** What happens to a payload that does not match the registry schema. */
export type RegistryMode = 'enforce' | 'warn';

/**
 * A job definition's registry schema.
 *
 * - `subject`: default by `subjectStrategy`: `topic` (default) → `<queue>-value`; `record`
 *   (Avro only) → `<namespace>.<name>` of the schema.
 * - `schema`: registered under the subject on first use (idempotent), then used to encode;
 *   without it, `version` (else the latest) of what the subject already holds is used.
 * - `mode`: `enforce` (default): an invalid payload is a SchemaError on enqueue and goes to the
 *   DLQ on consume; `warn`: it is published and handled, with a warning logged and counted.
 */
export interface JobRegistrySchema {
  readonly type: RegistrySchemaType;
  readonly subject?: string;
  readonly subjectStrategy?: 'topic' | 'record';
  /** The schema text (or an object, JSON-serialised) to register. */
  readonly schema?: string | object;
  readonly references?: readonly RegistrySchemaReference[];
  /** A pinned version to encode with (default: the one registered from `schema`, else the latest). */
  readonly version?: number;
  readonly mode?: RegistryMode;
  /** Set on the subject before `schema` is registered. */
  readonly compatibility?: CompatibilityLevel;
}

/** The content type of a registry-framed job payload, by schema type. */
export const REGISTRY_CONTENT_TYPES: Readonly<Record<RegistrySchemaType, string>> = {
  AVRO: 'application/vnd.jobbus.registry.avro',
  JSON: 'application/vnd.jobbus.registry.json',
  PROTOBUF: 'application/vnd.jobbus.registry.protobuf',
};
