/** Subject naming strategies and the checks of a definition's registry settings. */
import { InvalidArgumentError } from '../../errors.js';
import type { JobRegistrySchema } from './types.js';

const TYPES = ['AVRO', 'JSON', 'PROTOBUF'];

/** The Avro record name strategy: `<namespace>.<name>` of the schema's record. */
function recordName(jobName: string, reg: JobRegistrySchema): string {
  let schema: unknown = reg.schema;
  if (typeof schema === 'string') {
    try {
      schema = JSON.parse(schema);
    } catch (cause) {
      throw new InvalidArgumentError(`defineJob "${jobName}": registry.schema is not Avro JSON`, { cause });
    }
  }
  const rec = (schema ?? {}) as { name?: unknown; namespace?: unknown };
  if (typeof rec.name !== 'string' || rec.name === '') {
    throw new InvalidArgumentError(`defineJob "${jobName}": subjectStrategy "record" needs registry.schema, an Avro record with a name`);
  }
  // A dotted name is already full; otherwise the namespace prefixes it.
  if (rec.name.includes('.') || typeof rec.namespace !== 'string' || rec.namespace === '') return rec.name;
  return `${rec.namespace}.${rec.name}`;
}

/** Check a definition's registry settings and return its subject. */
export function registrySubjectOf(jobName: string, queue: string, reg: JobRegistrySchema): string {
  const where = `defineJob "${jobName}": registry`;
  if (typeof reg !== 'object' || reg === null) throw new InvalidArgumentError(`${where} must be an object`);
  if (!TYPES.includes(reg.type)) throw new InvalidArgumentError(`${where}.type must be one of ${TYPES.join(', ')}`);
  if (reg.mode !== undefined && reg.mode !== 'enforce' && reg.mode !== 'warn') throw new InvalidArgumentError(`${where}.mode must be "enforce" or "warn"`);
  if (reg.version !== undefined && (!Number.isInteger(reg.version) || reg.version < 1)) {
    throw new InvalidArgumentError(`${where}.version must be an integer >= 1`);
  }
  if (reg.subject !== undefined) {
    if (typeof reg.subject !== 'string' || reg.subject.trim() === '') throw new InvalidArgumentError(`${where}.subject must be a non-empty string`);
    return reg.subject;
  }
  if (reg.subjectStrategy === 'record') {
    if (reg.type !== 'AVRO') throw new InvalidArgumentError(`${where}.subjectStrategy "record" is for Avro schemas; name the subject instead`);
    return recordName(jobName, reg);
  }
  if (reg.subjectStrategy !== undefined && reg.subjectStrategy !== 'topic') {
    throw new InvalidArgumentError(`${where}.subjectStrategy must be "topic" or "record"`);
  }
  return `${queue}-value`;
}
