/**
 * `jobbus/testing`: helpers for users' unit tests, on the in-memory bus.
 */
import pino from 'pino';
import { createMemoryEventBus, type MemoryEventBus } from '../eventbus/memory/bus.js';
import { createEventBusBridge } from '../bridge/bridge.js';
import { createBusDLQStore } from '../bridge/dlq-store.js';
import { createRuntimeBackend, type RuntimeBackend } from '../runtime-backend/backend.js';
import { createWorker, type JobHandler, type JobOutcome, type Worker, type WorkerOptions } from '../worker/worker.js';
import { createJobClient, type JobClient } from '../jobs/client.js';
import type { RegistrableJob } from '../jobs/define.js';
import type { WorkerConfigInput } from '../jobs/config.js';
import type { DeadLetter, DLQStore } from '../jobs/types.js';

/** What {@link createTestJobbus} takes beside the worker config. */
export interface TestJobbusOptions extends WorkerOptions {
  /** Consumer group of the backend. Default `jobbus`. */
  readonly group?: string;
  /** Handlers by job name. */
  readonly handlers?: Record<string, JobHandler>;
  /** Typed job definitions to register. */
  readonly definitions?: readonly RegistrableJob[];
  /** Start the worker (default true). Leave it stopped to drive jobs one by one with `processOne`. */
  readonly autoStart?: boolean;
}

/** A complete jobbus stack on a fresh memory bus, for unit tests. */
export interface TestJobbus {
  /** The bus. */
  readonly bus: MemoryEventBus;
  /** The lease backend. */
  readonly backend: RuntimeBackend;
  /** The worker. */
  readonly worker: Worker;
  /** Typed enqueue API over the backend. */
  readonly client: JobClient;
  /** The DLQ of every queue. */
  readonly dlq: DLQStore;
  /** Resolve once no queue of the worker has a pending, running or delayed job. */
  drain(timeoutMs?: number): Promise<void>;
  /** With the worker not started: reserve and run exactly one job and return what happened. */
  processOne(timeoutMs?: number): Promise<JobOutcome | undefined>;
  /** Jobs of `queue` not yet settled (ready, in flight, waiting for redelivery) plus delayed ones. */
  pendingCount(queue: string): number;
  /** The entries of a queue's DLQ, newest first. */
  deadLetters(queue: string): Promise<DeadLetter[]>;
  /** Stop the worker (if started) and close everything. */
  close(): Promise<void>;
}

/** Create a {@link TestJobbus}; logs are silent unless a logger is passed. */
export async function createTestJobbus(config: WorkerConfigInput, options: TestJobbusOptions = {}): Promise<TestJobbus> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const bus = createMemoryEventBus();
  const bridge = createEventBusBridge(bus, { logger });
  const group = options.group ?? 'jobbus';
  const backend = createRuntimeBackend(bridge, { group });
  const worker = createWorker(backend, config, { ...options, logger });
  for (const [name, h] of Object.entries(options.handlers ?? {})) worker.register(name, h);
  for (const def of options.definitions ?? []) worker.register(def);
  let started = false;
  if (options.autoStart ?? true) {
    await worker.start();
    started = true;
  }
  const pendingCount = (queue: string): number => bus.pendingCount(queue, group) + bus.delayedCount(queue);
  const idle = (): boolean => worker.running === 0 && worker.config.queues.every((q) => pendingCount(q.name) === 0);
  const dlq = createBusDLQStore(bus);
  return {
    bus,
    backend,
    worker,
    client: createJobClient(backend),
    dlq,
    async drain(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      // Idle twice in a row, a tick apart, so a retry published in between is not missed.
      let quietTicks = 0;
      while (quietTicks < 2) {
        if (Date.now() > deadline) throw new Error(`jobbus did not become idle within ${timeoutMs} ms`);
        quietTicks = idle() ? quietTicks + 1 : 0;
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    processOne: (timeoutMs) => worker.processOne(timeoutMs),
    pendingCount,
    deadLetters: (queue) => dlq.listDLQ(queue, 10_000),
    async close() {
      if (started) await worker.stop();
      await backend.close();
    },
  };
}

export { runConformance, type ConformanceTarget, type ConformanceTestApi, type ConformanceMatchers } from './conformance.js';
export { waitFor, deferred } from './wait.js';
