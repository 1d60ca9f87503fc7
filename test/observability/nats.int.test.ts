/** Metrics and tracing on NATS JetStream: the memory bus's cases, on a real broker. */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { natsScope, uniqueName } from '../nats/helpers.js';
import { checkJobMetrics } from './metrics-cases.js';
import { checkSpanTree, installOtelGlobals } from './tracing-cases.js';

const scope = natsScope('obs');
let undo: () => void;
beforeAll(() => (undo = installOtelGlobals()));
afterAll(async () => {
  undo();
  await scope.cleanup();
});

describe('metrics and tracing on NATS', () => {
  it('counts enqueued jobs, outcomes, attempt durations and jobs in flight', async () => {
    await checkJobMetrics(await scope.bus(), uniqueName('obs-metrics'), 20_000);
  });

  it('traces enqueue and every attempt in one tree, messaging.system nats', async () => {
    await checkSpanTree(await scope.bus(), uniqueName('obs-traced'), 'nats', 20_000);
  });
});
