/**
 * What every behaviour module of the conformance suite is handed: the test framework, the
 * target's patience and queue names, and factories for buses, backends and workers that the
 * suite closes after each test.
 */
import pino from 'pino';
import type { EventBus, Message } from '../../eventbus/types.js';
import { createEventBusBridge } from '../../bridge/index.js';
import { createRuntimeBackend, type RuntimeBackend } from '../../runtime-backend/index.js';
import { createWorker, type JobHandler, type Worker } from '../../worker/index.js';
import type { WorkerConfigInput } from '../../jobs/config.js';
import type { ConformanceTarget, ConformanceTestApi } from './types.js';

/** Logger of every component the suite makes. */
export const silent = pino({ level: 'silent' });

/** Quick retries, so failure cases finish fast. */
export const FAST_RETRY = { maxAttempts: 3, initialBackoffMs: 30, maxBackoffMs: 120, jitter: 0, attemptTimeoutMs: 5_000 };

/** What the suite hands each behaviour module. */
export interface ConformanceContext {
  readonly it: ConformanceTestApi['it'];
  readonly expect: ConformanceTestApi['expect'];
  /** How long to wait for things that should happen "soon", ms. */
  readonly patience: number;
  /** A queue name unique to one test. */
  queueName(prefix: string): string;
  /** A new bus, closed after the test. */
  newBus(): Promise<EventBus>;
  /** A bridge and lease backend on `bus` (a new bus if none), closed after the test. */
  newBackend(bus?: EventBus, group?: string, maxInFlight?: number): Promise<RuntimeBackend>;
  /** A started worker with fast-test defaults and `handlers`, stopped after the test. */
  newWorker(backend: RuntimeBackend, config: WorkerConfigInput, handlers: Record<string, JobHandler>): Promise<Worker>;
  /** Collect everything published to `topic` (e.g. a DLQ) through a separate consumer group. */
  collect(bus: EventBus, topic: string): Promise<Message[]>;
  /** Run after the current test (closing what it opened), last in first out. */
  readonly cleanups: (() => Promise<void>)[];
}

/**
 * The context for one `describe` of the suite. Its `cleanups` fill during a test and are
 * drained by the suite's `afterEach`.
 */
export function createContext(target: ConformanceTarget, api: ConformanceTestApi): ConformanceContext {
  const cleanups: (() => Promise<void>)[] = [];

  async function newBus(): Promise<EventBus> {
    const bus = await target.createBus();
    cleanups.push(() => bus.close());
    return bus;
  }

  async function newBackend(bus?: EventBus, group = 'workers', maxInFlight = 64): Promise<RuntimeBackend> {
    const b = bus ?? (await newBus());
    const bridge = createEventBusBridge(b, { logger: silent, ownsBus: false });
    const backend = createRuntimeBackend(bridge, { group, maxInFlight, ackTimeoutMs: 30_000 });
    cleanups.push(() => backend.close());
    return backend;
  }

  async function newWorker(backend: RuntimeBackend, config: WorkerConfigInput, handlers: Record<string, JobHandler>): Promise<Worker> {
    const worker = createWorker(
      backend,
      { reserveTimeoutMs: 100, stopTimeoutMs: 2_000, leaseTtlMs: 10_000, retry: FAST_RETRY, ...config },
      { logger: silent },
    );
    for (const [name, h] of Object.entries(handlers)) worker.register(name, h);
    await worker.start();
    cleanups.push(() => worker.stop().catch(() => undefined));
    return worker;
  }

  async function collect(bus: EventBus, topic: string): Promise<Message[]> {
    const seen: Message[] = [];
    const sub = await bus.subscribe(topic, async (d) => void seen.push(d.message), { group: `reader-${topic}` });
    cleanups.push(() => sub.close());
    return seen;
  }

  return {
    it: api.it,
    expect: api.expect,
    patience: target.patienceMs ?? 10_000,
    queueName: (prefix) => target.queueName(prefix),
    newBus,
    newBackend,
    newWorker,
    collect,
    cleanups,
  };
}

/** `p`, or an error naming `what` after `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
