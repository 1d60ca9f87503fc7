/** A DLQ listing reads the newest messages only as far as its page needs (not the whole DLQ). */
import { describe, expect, it } from 'vitest';
import { createBusDLQStore } from '../../src/bridge/dlq-store.js';
import { createMemoryEventBus } from '../../src/eventbus/memory/index.js';
import type { BrowsableBus, EventBus } from '../../src/eventbus/types.js';
import { seedDLQ, specs } from '../../src/testing/conformance/dlq-seed.js';

/** The memory bus, counting how many messages each browse of the DLQ asked for. */
function countingBus(): { bus: EventBus & BrowsableBus; windows: number[] } {
  const inner = createMemoryEventBus();
  const windows: number[] = [];
  const bus: EventBus & BrowsableBus = Object.assign(Object.create(inner) as EventBus & BrowsableBus, {
    browse: (topic: string, limit: number) => {
      if (topic === 'big.dlq') windows.push(limit);
      return inner.browse(topic, limit);
    },
  });
  return { bus, windows };
}

describe('DLQ listing window', () => {
  it('reads a few hundred messages for a first page of a large DLQ, more only when the filter needs them', async () => {
    const { bus, windows } = countingBus();
    await seedDLQ(bus, 'big', 'big.dlq', specs(1_500, ['common'], ['boom']).map((s, i) => (i === 0 ? { ...s, name: 'rare' } : s)));
    const store = createBusDLQStore(bus);

    const first = await store.list('big', { limit: 20 });
    expect(first.entries).toHaveLength(20);
    expect(first.nextCursor).toBeDefined();
    expect(windows).toEqual([256]);

    // The only "rare" entry is the oldest: the window grows until it holds it, then stops.
    windows.length = 0;
    const rare = await store.list('big', { names: ['rare'], limit: 20 });
    expect(rare.entries.map((e) => e.job.name)).toEqual(['rare']);
    expect(rare.nextCursor).toBeUndefined();
    expect(windows).toEqual([256, 1_024, 4_096]);
    await bus.close();
  });
});
