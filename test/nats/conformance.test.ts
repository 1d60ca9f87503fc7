import { afterAll } from 'vitest';
import { runConformance } from '../conformance/suite.js';
import { natsScope, uniqueName } from './helpers.js';

const scope = natsScope('cf');
afterAll(() => scope.cleanup());

runConformance({
  name: 'NATS JetStream',
  createBus: () => scope.bus(),
  queueName: (prefix) => uniqueName(prefix),
  patienceMs: 10_000,
});
