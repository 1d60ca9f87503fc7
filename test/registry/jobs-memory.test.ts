import { createMemoryEventBus } from '../../src/eventbus/memory/bus.js';
import { describe, expect, it } from 'vitest';
import { defineJob, SchemaError } from '../../src/index.js';
import { forgetDefinition } from '../../src/advanced.js';
import { createTestJobbus } from '../../src/testing/index.js';
import { registryUrl, uniqueName } from '../setup/env.js';
import { registryJobCases } from './jobs-cases.js';

registryJobCases('memory', { makeBus: () => Promise.resolve(createMemoryEventBus()), queue: (p) => uniqueName(p), arrivalMs: 5_000 });

describe('jobbus/testing with a schema registry', () => {
  it('createTestJobbus passes schemaRegistry to the face: a registry job runs with its decoded payload', async () => {
    const queue = uniqueName('testing-registry');
    const seen: unknown[] = [];
    const def = defineJob<{ n: number }>({
      name: `${queue}-job`,
      queue,
      registry: { type: 'JSON', schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] }, mode: 'enforce' },
      handler: (payload) => void seen.push(payload),
    });
    const t = await createTestJobbus({ definitions: [def] }, { schemaRegistry: { host: registryUrl() } });
    try {
      await expect(t.enqueue(def, { n: 1.5 })).rejects.toBeInstanceOf(SchemaError);
      await t.enqueue(def, { n: 7 });
      await t.drain();
      expect(seen).toEqual([{ n: 7 }]);
    } finally {
      await t.close();
      forgetDefinition(def.name);
    }
  });
});
