import type { EventBus } from '../../src/index.js';
import { createMemoryEventBus } from '../../src/eventbus/memory/index.js';

/** A memory bus offering only the EventBus contract: no browsing, no stats (the optional capabilities absent). */
export function plainMemoryBus(): EventBus {
  const memory = createMemoryEventBus();
  return {
    publish: (t, m, o) => memory.publish(t, m, o),
    publishBatch: (t, m, o) => memory.publishBatch(t, m, o),
    subscribe: (t, h, o) => memory.subscribe(t, h, o),
    healthCheck: () => memory.healthCheck(),
    close: () => memory.close(),
  };
}
