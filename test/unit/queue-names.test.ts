/**
 * One owner of DLQ names: the naming schemes, their checks, and a prefix scheme carried through
 * the bridge (which publishes dead letters) and the DLQ store (which browses them).
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createJob, InvalidArgumentError, PermanentError } from '../../src/index.js';
import { createBusDLQStore, createEventBusBridge, createRuntimeBackend, createWorker } from '../../src/advanced.js';
import { createMemoryEventBus } from '../../src/eventbus/memory/index.js';
import {
  DEFAULT_QUEUE_NAMES,
  dlqNameOf,
  prefixQueueNames,
  queueNamesOf,
  suffixQueueNames,
  type QueueNames,
} from '../../src/jobs/queue-names.js';
import { waitFor } from '../support/wait.js';

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('queue names', () => {
  it('names DLQs by suffix (default `.dlq`) or prefix, and recognises them', () => {
    expect(DEFAULT_QUEUE_NAMES.dlq('orders')).toBe('orders.dlq');
    expect(suffixQueueNames('-dead').dlq('orders')).toBe('orders-dead');
    const prefix = prefixQueueNames('dlq.');
    expect(prefix.dlq('orders')).toBe('dlq.orders');
    expect(prefix.isDlq('dlq.orders')).toBe(true);
    expect(prefix.isDlq('orders')).toBe(false);
    expect(prefix.isDlq('dlq.')).toBe(false); // the bare prefix names no queue's DLQ
    expect(DEFAULT_QUEUE_NAMES.isDlq('orders.dlq')).toBe(true);
    expect(DEFAULT_QUEUE_NAMES.isDlq('.dlq')).toBe(false);
    expect(DEFAULT_QUEUE_NAMES.isDlq('orders')).toBe(false);
  });

  it('refuses an affix that would map a queue onto itself, and a names object without its functions', () => {
    for (const bad of ['', '  ', undefined as unknown as string, 7 as unknown as string]) {
      if (bad !== undefined) expect(() => suffixQueueNames(bad)).toThrow(InvalidArgumentError);
      expect(() => prefixQueueNames(bad)).toThrow(InvalidArgumentError);
    }
    expect(() => queueNamesOf({ dlq: (q: string) => `${q}!` } as unknown as QueueNames)).toThrow(/isDlq/);
    expect(queueNamesOf(undefined)).toBe(DEFAULT_QUEUE_NAMES);
    const identity: QueueNames = { dlq: (q) => q, isDlq: () => false };
    expect(() => dlqNameOf(identity, 'orders')).toThrow(/other than the queue itself/);
    expect(() => createEventBusBridge(createMemoryEventBus(), { names: {} as QueueNames })).toThrow(InvalidArgumentError);
  });

  it('a prefix scheme given to the bridge and the DLQ store dead-letters to `dlq.<queue>` and lists it there', async () => {
    const names = prefixQueueNames('dlq.');
    const bus = createMemoryEventBus();
    const backend = createRuntimeBackend(createEventBusBridge(bus, { names, logger: silent }), { logger: silent });
    const worker = createWorker(backend, { queues: ['q'] }, { logger: silent });
    cleanups.push(() => backend.close(), () => worker.stop());
    worker.register('doomed', () => {
      throw new PermanentError('never works');
    });
    await worker.start();
    const job = createJob({ name: 'doomed', queue: 'q', payload: 'x' });
    await backend.enqueue(job);
    const dlq = createBusDLQStore(bus, { names });
    const [entry] = await waitFor(async () => {
      const found = await dlq.listDLQ('q', 10);
      return found.length > 0 ? found : undefined;
    }, 'the dead letter under dlq.q');
    expect(entry!.job.id).toBe(job.id);
    expect(entry!.reason).toMatch(/never works/);
    expect(await bus.browse('dlq.q', 10)).toHaveLength(1);
    expect(await bus.browse('q.dlq', 10)).toHaveLength(0);
    // The default store looks under the default name, where nothing was published.
    expect(await createBusDLQStore(bus).listDLQ('q', 10)).toHaveLength(0);
  });
});
