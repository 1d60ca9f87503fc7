import { describe, expect, it } from 'vitest';
import { createJobbus, NotInitializedError } from '../../src/index.js';
import { hasTopicStats } from '../../src/advanced.js';
import { createMemoryEventBus } from '../../src/eventbus/memory/index.js';
import { statsCases } from './stats-cases.js';
import { plainMemoryBus } from './plain-bus.js';

let n = 0;
statsCases('the memory bus', {
  makeBus: async () => createMemoryEventBus(),
  queue: (p) => `${p}-${++n}`,
  convergeMs: 5_000,
  tells: { inFlight: true, delayed: true, oldest: false },
});

describe('queue stats, memory only', () => {
  it('a group that never consumed a topic has everything waiting', async () => {
    const bus = createMemoryEventBus();
    await bus.publish('t', { value: new Uint8Array([1]), headers: {} });
    await bus.publish('t', { value: new Uint8Array([2]), headers: {} }, { deliverAt: new Date(Date.now() + 60_000) });
    expect(hasTopicStats(bus)).toBe(true);
    expect(await bus.topicStats('t', 'g')).toEqual({ topic: 't', group: 'g', waiting: 1, inFlight: 0, delayed: 1, retained: 1 });
    expect(await bus.topicStats('never', 'g')).toEqual({ topic: 'never', group: 'g', waiting: 0, inFlight: 0, delayed: 0, retained: 0 });
    await bus.close();
  });

  it('on a bus without the capability, jobs.stats says so', async () => {
    const plain = plainMemoryBus();
    expect(hasTopicStats(plain)).toBe(false);
    const jobs = createJobbus({ bus: plain });
    await expect(jobs.stats(['q'])).rejects.toBeInstanceOf(NotInitializedError);
    await jobs.close();
  });
});
