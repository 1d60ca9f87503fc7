import { randomUUID } from 'node:crypto';
import { createMemoryEventBus } from '../../src/eventbus/memory/index.js';
import { runConformance } from './suite.js';

runConformance({
  name: 'the memory bus',
  createBus: async () => createMemoryEventBus(),
  queueName: (prefix) => `${prefix}-${randomUUID().slice(0, 8)}`,
  patienceMs: 5_000,
});
