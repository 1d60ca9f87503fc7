/**
 * `jobbus/testing`: helpers for users' unit tests, on the in-memory bus.
 */
import pino from 'pino';
import { createMemoryEventBus, type MemoryEventBus } from '../eventbus/memory/bus.js';
import { assembleJobbus, type Jobbus, type JobbusOptions, type JobbusWorkerConfig } from '../jobbus.js';
import type { RuntimeBackend } from '../runtime-backend/backend.js';
import type { JobHandler, JobOutcome, Worker, WorkerOptions } from '../worker/types.js';
import { createJobClient, type JobClient } from '../jobs/client.js';
import type { RegistrableJob } from '../jobs/define.js';
import type { DeadLetter, DLQStore } from '../jobs/types.js';
import type { QueueNames } from '../jobs/queue-names.js';

/** What {@link createTestJobbus} takes beside the worker config. */
export interface TestJobbusOptions extends WorkerOptions {
  /** Consumer group of the backend. Default `jobbus`. */
  readonly group?: string;
  /** Handlers by job name. */
  readonly handlers?: Record<string, JobHandler>;
  /** Typed job definitions to register. */
  readonly definitions?: readonly RegistrableJob[];
  /** How DLQs are named (the `names` option of `createJobbus`). Default queue + `.dlq`. */
  readonly names?: QueueNames;
  /** A schema registry for definitions that name a registry schema (the `schemaRegistry` option of `createJobbus`). */
  readonly schemaRegistry?: JobbusOptions['schemaRegistry'];
  /** Start the worker (default true). Leave it stopped to drive jobs one by one with `processOne`. */
  readonly autoStart?: boolean;
}

/**
 * A {@link createJobbus} instance on a fresh memory bus with one worker, plus what unit tests
 * need: drain, one job at a time, pending counts, dead letters.
 */
export interface TestJobbus {
  /** The face: enqueue, dlq, health, more workers. */
  readonly jobs: Jobbus;
  /** Enqueue through the face (same overloads as {@link Jobbus.enqueue}). */
  readonly enqueue: Jobbus['enqueue'];
  /** The bus. */
  readonly bus: MemoryEventBus;
  /** The worker. */
  readonly worker: Worker;
  /** The DLQ of every queue. */
  readonly dlq: DLQStore;
  /** The lease backend under the worker, for tests that inject faults into it. */
  readonly backend: RuntimeBackend;
  /** Typed enqueue API (the face's enqueue forms cover it; kept for existing tests). */
  readonly client: JobClient;
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
export async function createTestJobbus(config: JobbusWorkerConfig, options: TestJobbusOptions = {}): Promise<TestJobbus> {
  const { group, handlers, definitions, autoStart, names, schemaRegistry, ...workerOptions } = options;
  const logger = options.logger ?? pino({ level: 'silent' });
  const bus = createMemoryEventBus();
  const groupName = group ?? 'jobbus';
  const { jobs, leases } = assembleJobbus({ bus, logger, ...(group !== undefined && { group }), ...(names && { names }), ...(schemaRegistry && { schemaRegistry }) });
  const worker = jobs.worker(
    {
      ...config,
      handlers: { ...config.handlers, ...handlers },
      definitions: [...(config.definitions ?? []), ...(definitions ?? [])],
    },
    { ...workerOptions, logger },
  );
  if (autoStart ?? true) await worker.start();
  const backend = leases();
  const pendingCount = (queue: string): number => bus.pendingCount(queue, groupName) + bus.delayedCount(queue);
  const idle = (): boolean => worker.running === 0 && worker.config.queues.every((q) => pendingCount(q.name) === 0);
  return {
    jobs,
    enqueue: jobs.enqueue,
    bus,
    worker,
    dlq: jobs.dlq,
    backend,
    client: createJobClient(backend),
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
    deadLetters: (queue) => jobs.dlq.listDLQ(queue, 10_000),
    close: () => jobs.close(),
  };
}

export { runConformance, type ConformanceTarget, type ConformanceTestApi, type ConformanceMatchers } from './conformance.js';
export { waitFor, deferred } from './wait.js';
