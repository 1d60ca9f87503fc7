/** Registry settings of a job definition, checked without a registry. */
import { afterEach, describe, expect, it } from 'vitest';
import { createJobbus, defineJob, InvalidArgumentError, NotInitializedError } from '../../src/index.js';
import { forgetDefinition } from '../../src/advanced.js';

const avro = { type: 'record', name: 'Signup', namespace: 'com.example', fields: [{ name: 'email', type: 'string' }] };
const names: string[] = [];
afterEach(() => {
  for (const n of names.splice(0)) forgetDefinition(n);
});
function define(name: string, registry: Parameters<typeof defineJob>[0]['registry']) {
  names.push(name);
  return defineJob({ name, queue: 'signups', registry: registry!, handler: () => undefined });
}

describe('defineJob with a registry schema', () => {
  it('names the subject: topic-name strategy by default, record-name for Avro, or as given', () => {
    expect(define('a', { type: 'AVRO', schema: avro }).registrySubject).toBe('signups-value');
    expect(define('b', { type: 'AVRO', schema: avro, subjectStrategy: 'record' }).registrySubject).toBe('com.example.Signup');
    expect(define('c', { type: 'AVRO', schema: JSON.stringify({ ...avro, name: 'x.y.Z' }), subjectStrategy: 'record' }).registrySubject).toBe('x.y.Z');
    expect(define('d', { type: 'JSON', subject: 'custom' }).registrySubject).toBe('custom');
  });

  it('refuses settings it cannot use, naming the field', () => {
    expect(() => define('e', { type: 'XML' as 'AVRO' })).toThrow(/registry.type must be one of AVRO, JSON, PROTOBUF/);
    expect(() => define('f', { type: 'JSON', subjectStrategy: 'record' })).toThrow(/subjectStrategy "record" is for Avro/);
    expect(() => define('g', { type: 'AVRO', subjectStrategy: 'record' })).toThrow(InvalidArgumentError);
    expect(() => define('h', { type: 'AVRO', version: 0 })).toThrow(/registry.version must be an integer >= 1/);
    expect(() => define('i', { type: 'AVRO', mode: 'strict' as 'warn' })).toThrow(/registry.mode/);
  });

  it('without a registry: the definition does not encode as JSON, and createJobbus refuses it clearly', async () => {
    const def = define('j', { type: 'AVRO', schema: avro });
    expect(() => def.encode({ email: 'x' })).toThrow(NotInitializedError);
    const jobs = createJobbus();
    try {
      await expect(jobs.enqueue(def, { email: 'x' })).rejects.toThrow(/names a registry schema \(subject "signups-value"\): pass schemaRegistry/);
      expect(() => jobs.worker({ definitions: [def] })).toThrow(NotInitializedError);
      expect(jobs.schemaRegistry).toBeUndefined();
      expect(jobs.registryWarnings).toEqual({ enqueue: 0, consume: 0 });
    } finally {
      await jobs.close();
    }
  });
});
