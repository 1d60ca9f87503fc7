/**
 * The job-status store in memory (the shared store cases on a fake clock), the best-effort
 * write queue, the face on the memory bus, and the lazy loading of the Redis and NATS peers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { createMemoryEventBus } from '../../src/eventbus/memory/index.js';
import { createMemoryStatusStore } from '../../src/index.js';
import { createStatusRecorder } from '../../src/status/recorder.js';
import { createStatusObserver, observeStatusEnqueue, observeStatusWorker } from '../../src/status/observe.js';
import type { Worker } from '../../src/worker/types.js';
import type { JobStatus, JobStatusStore } from '../../src/status/types.js';
import { deferred, waitFor } from '../support/wait.js';
import { statusFaceCases } from './face-cases.js';
import { status, statusStoreCases } from './store-cases.js';

let clock = Date.now();
const now = (): number => clock;

statusStoreCases('memory', {
  make: (ttlMs) => createMemoryStatusStore({ ttlMs, now }),
  // One process, one store: the second "instance" is the same object.
  sibling: (first) => first,
  passTime: async (ms) => {
    clock += ms;
  },
  ttlMs: 1_000,
});

let queues = 0;
statusFaceCases('the memory bus', {
  makeBus: async () => createMemoryEventBus(),
  makeStore: async () => createMemoryStatusStore({ ttlMs: 60_000 }),
  queue: (p) => `${p}-${++queues}`,
  arrivalMs: 5_000,
});

describe('memory status store', () => {
  it('expires exactly at ttlMs after the last write, on the injected clock', async () => {
    const store = createMemoryStatusStore({ ttlMs: 1_000, now });
    await store.record(status('edge', 'pending'));
    clock += 999;
    expect((await store.get('edge'))?.state).toBe('pending');
    clock += 1;
    expect(await store.get('edge')).toBeUndefined();
    expect((await store.snapshot()).total).toBe(0);
    // A refused write (the record is final) does not extend a record's life.
    await store.record(status('final', 'completed'));
    clock += 600;
    expect(await store.record(status('final', 'processing', 3))).toBe(false);
    clock += 400;
    expect(await store.get('final')).toBeUndefined();
  });

  it('keeps at most maxEntries records, dropping the least recently written', async () => {
    const store = createMemoryStatusStore({ ttlMs: 60_000, maxEntries: 3, now });
    for (const id of ['a', 'b', 'c']) await store.record(status(id, 'pending'));
    await store.record(status('a', 'processing'));
    await store.record(status('d', 'pending'));
    expect(await store.get('b')).toBeUndefined();
    expect((await store.snapshot()).total).toBe(3);
    expect((await store.get('a'))?.state).toBe('processing');
  });

  it('defaults to a one-day TTL and refuses bad options', () => {
    expect(() => createMemoryStatusStore({ ttlMs: 0 })).toThrow(InvalidArgumentError);
    expect(() => createMemoryStatusStore({ ttlMs: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => createMemoryStatusStore({ maxEntries: 0 })).toThrow(InvalidArgumentError);
    expect(createMemoryStatusStore()).toBeDefined();
  });
});

/** A store whose every call waits for `gate` and then does what `inner` does. */
function gatedStore(inner: JobStatusStore): { store: JobStatusStore; writes: JobStatus[]; open(): void } {
  const gate = deferred();
  const writes: JobStatus[] = [];
  return {
    writes,
    open: () => gate.resolve(),
    store: {
      record: async (u) => {
        writes.push(u);
        await gate.promise;
        return inner.record(u);
      },
      get: (id) => inner.get(id),
      snapshot: () => inner.snapshot(),
    },
  };
}

describe('status writes are best effort', () => {
  const logger = pino({ level: 'silent' });

  it('never throws or waits for a failing store; failures are counted', async () => {
    const failing: JobStatusStore = {
      record: () => Promise.reject(new Error('store down')),
      get: async () => undefined,
      snapshot: async () => ({ total: 0, byState: { pending: 0, processing: 0, retrying: 0, completed: 0, failed: 0, dead: 0 }, byName: {}, byQueue: {} }),
    };
    const recorder = createStatusRecorder(failing, { logger });
    for (let i = 0; i < 10; i++) expect(recorder.push(status(`f${i}`, 'pending'))).toBeUndefined();
    await recorder.flush();
    expect(recorder.counters()).toEqual({ recorded: 0, failed: 10, dropped: 0 });
  });

  it('bounds the queue while the store hangs (drops and counts), and a hung write times out', async () => {
    const hung = gatedStore(createMemoryStatusStore({ ttlMs: 60_000 }));
    const recorder = createStatusRecorder(hung.store, { logger, maxQueued: 5, concurrency: 2, timeoutMs: 200 });
    const started = Date.now();
    for (let i = 0; i < 20; i++) recorder.push(status(`h${i}`, 'pending'));
    expect(Date.now() - started).toBeLessThan(50);
    // Two in flight, five queued, the other 13 dropped.
    expect(hung.writes).toHaveLength(0);
    await waitFor(() => hung.writes.length === 2, 'two writes in flight');
    expect(recorder.counters().dropped).toBe(13);
    await recorder.flush(5_000);
    expect(recorder.counters()).toEqual({ recorded: 0, failed: 7, dropped: 13 });
  });

  it('writes only the newest queued update of a job, and one job’s updates one after another', async () => {
    const memory = createMemoryStatusStore({ ttlMs: 60_000 });
    const slow = gatedStore(memory);
    const recorder = createStatusRecorder(slow.store, { logger, concurrency: 4 });
    recorder.push(status('j', 'pending'));
    recorder.push(status('j', 'processing'));
    recorder.push(status('j', 'retrying'));
    recorder.push(status('j', 'processing', 1));
    recorder.push(status('k', 'pending'));
    await waitFor(() => slow.writes.length === 2, 'the first writes');
    // j's first update is in flight; its three later ones collapsed into the newest.
    expect(slow.writes.map((w) => `${w.jobId}:${w.state}`)).toEqual(['j:pending', 'k:pending']);
    slow.open();
    await recorder.flush();
    expect(slow.writes.map((w) => `${w.jobId}:${w.state}:${w.attempt}`)).toEqual(['j:pending:0', 'k:pending:0', 'j:processing:1']);
    expect((await memory.get('j'))?.attempt).toBe(1);
    expect(recorder.counters()).toEqual({ recorded: 3, failed: 0, dropped: 0 });
  });
});

describe('job status off (no store given)', () => {
  it('wraps nothing: the enqueue target is returned as is and no worker hook is added', () => {
    const target = { enqueue: async () => undefined, enqueueBatch: async () => undefined };
    expect(observeStatusEnqueue(target, createStatusObserver(undefined, pino({ level: 'silent' })))).toBe(target);
    let hooked = 0;
    observeStatusWorker({ addHooks: () => void hooked++ } as unknown as Worker, undefined);
    expect(hooked).toBe(0);
  });
});

describe('the status stores load their broker clients lazily', () => {
  it('src/status imports redis and @nats-io/* only as types or through import()', () => {
    const dir = new URL('../../src/status/', import.meta.url);
    const eager: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      for (const m of text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+['"]((?:redis|@nats-io\/)[^'"]*)['"]/gm)) eager.push(`${file}: ${m[1]}`);
    }
    expect(eager).toEqual([]);
  });
});
