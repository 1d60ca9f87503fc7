/** OpenTelemetry spans on the memory bus, checked with the SDK's in-memory exporter. */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createMemoryEventBus } from '../../src/eventbus/memory/index.js';
import { checkOffByDefault, checkSpanTree, installOtelGlobals } from './tracing-cases.js';

let undo: () => void;
beforeAll(() => (undo = installOtelGlobals()));
afterAll(() => undo());

describe('tracing on the memory bus', () => {
  it('traces enqueue and every attempt (a retry and a dead job included) in one tree', async () => {
    await checkSpanTree(createMemoryEventBus(), 'traced', 'memory', 10_000);
  });

  it('injects nothing without the tracing option', async () => {
    await checkOffByDefault(createMemoryEventBus(), 'untraced');
  });
});
