import { afterEach, describe, expect, it } from 'vitest';
import { createJobbus, NotInitializedError, ValidationError } from '../../src/index.js';
import { createMemoryEventBus } from '../../src/eventbus/memory/index.js';
import { faceCases } from './face-cases.js';
import { plainMemoryBus } from './plain-bus.js';

let n = 0;
faceCases('the memory bus', { makeBus: async () => createMemoryEventBus(), queue: (p) => `${p}-${++n}`, arrivalMs: 5_000 });

describe('createJobbus, memory only', () => {
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closing.splice(0)) await c();
  });

  it('defaults to an in-memory bus and publishes nothing of a bulk with an invalid job', async () => {
    const jobs = createJobbus();
    closing.push(() => jobs.close());
    await expect(
      jobs.enqueueBulk([
        { name: 'a', queue: 'bulk', payload: { ok: true } },
        { name: '', queue: 'bulk', payload: { ok: false } },
      ]),
    ).rejects.toThrow(/item 1/);
    const bus = jobs.bus as ReturnType<typeof createMemoryEventBus>;
    expect(await bus.browse('bulk', 10)).toHaveLength(0);
    await expect(jobs.enqueueBulk([{ name: 'a', queue: 'bulk', payload: 1 }])).resolves.toHaveLength(1);
    expect(await bus.browse('bulk', 10)).toHaveLength(1);
  });

  it('a worker config error names the field', async () => {
    const jobs = createJobbus();
    closing.push(() => jobs.close());
    expect(() => jobs.worker({ queues: [], handlers: {} })).toThrow(ValidationError);
  });

  it('on a bus that cannot browse, the DLQ store says so', async () => {
    const plain = plainMemoryBus();
    const jobs = createJobbus({ bus: plain });
    closing.push(() => jobs.close());
    await expect(jobs.dlq.listDLQ('q', 10)).rejects.toBeInstanceOf(NotInitializedError);
  });
});
