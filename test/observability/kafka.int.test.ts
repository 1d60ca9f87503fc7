/** Metrics and tracing on Kafka: the memory bus's cases, on a real broker. */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { cleanup, makeBus, topicName } from '../kafka/helpers.js';
import { checkJobMetrics } from './metrics-cases.js';
import { checkSpanTree, installOtelGlobals } from './tracing-cases.js';

let undo: () => void;
beforeAll(() => (undo = installOtelGlobals()));
afterAll(async () => {
  undo();
  await cleanup();
});

describe('metrics and tracing on Kafka', () => {
  it('counts enqueued jobs, outcomes, attempt durations and jobs in flight', async () => {
    await checkJobMetrics(await makeBus(), topicName('obs-metrics'), 30_000);
  });

  it('traces enqueue and every attempt in one tree, messaging.system kafka', async () => {
    await checkSpanTree(await makeBus(), topicName('obs-traced'), 'kafka', 30_000);
  });
});
