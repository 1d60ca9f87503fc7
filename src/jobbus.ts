/**
 * The face: one call assembles the data path (bus → jobs runtime → leases → workers) and the
 * DLQ store, the way an application uses them. The layers stay available, one by one, in
 * `jobbus/advanced`.
 *
 * Lifecycle: open --close()--> closing --> closed. While open, workers may be created and
 * jobs enqueued; close() stops every worker this instance created (in-flight jobs finish up to
 * their stop timeout), releases held jobs for redelivery, then closes the bus when it owns it.
 * Nothing can be used after close() (a {@link ClosedError}).
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import { ClosedError, NotInitializedError } from './errors.js';
import { createMemoryEventBus } from './eventbus/memory/bus.js';
import { isBrowsable, type EventBus } from './eventbus/types.js';
import { createEventBusBridge } from './bridge/bridge.js';
import { createBusDLQStore } from './bridge/dlq-store.js';
import { createRuntimeBackend, type RuntimeBackend } from './runtime-backend/backend.js';
import { createWorker } from './worker/worker.js';
import type { JobHandler, Worker, WorkerOptions } from './worker/types.js';
import { createJobClient, type EnqueueOptions } from './jobs/client.js';
import type { JobDefinition, RegistrableJob } from './jobs/define.js';
import type { WorkerConfigInput } from './jobs/config.js';
import type { JobInput } from './jobs/job.js';
import type { DLQStore, Job } from './jobs/types.js';
import type { QueueNames } from './jobs/queue-names.js';
import { defaultLogger } from './jobs/logger.js';
import { createHealthChecker, type HealthResult } from './health.js';
import { createSchemaRegistry } from './eventbus/schema/registry.js';
import type { SchemaRegistry, SchemaRegistryOptions } from './eventbus/schema/types.js';
import { createRegistryPayloads, type RegistryPayloads, type RegistryWarningCounts } from './jobs/schema/codec.js';
import type { MetricsOptions, TracingOptions } from './observability/types.js';
import { createJobbusMetrics } from './observability/metrics.js';
import { busKind, createJobbusTracing } from './observability/tracing.js';
import { observeEnqueue, observeQueues, observeWorker } from './observability/enqueue.js';
import { queueStatsOf, type QueueStats } from './queue-stats.js';
import { createQueueControl } from './control/control.js';
import type { PausedQueue } from './control/types.js';
import { createStatusObserver, observeStatusEnqueue, observeStatusWorker, statusQueries } from './status/observe.js';
import type { JobStatus, JobStatusStore, StatusSnapshot } from './status/types.js';

/** Options of {@link createJobbus}; every one has a default. */
export interface JobbusOptions {
  /**
   * The event bus: `createKafkaEventBus(…)` from `jobbus/kafka`, `createNatsEventBus(…)` from
   * `jobbus/nats`. Default: a new in-memory bus (one process, nothing persisted).
   */
  readonly bus?: EventBus;
  /** Consumer group of this application's workers: processes of one group share the jobs. Default `jobbus`. */
  readonly group?: string;
  /** Logger; default pino at level `JOBBUS_LOG_LEVEL` (default `warn`). */
  readonly logger?: Logger;
  /** Close the bus on {@link Jobbus.close}. Default true. */
  readonly ownsBus?: boolean;
  /**
   * How dead-letter queues are named: `suffixQueueNames('-dead')`, `prefixQueueNames('dlq.')`.
   * Default: queue + `.dlq`. Every process of an application must use the same.
   */
  readonly names?: QueueNames;
  /** Jobs a process holds per queue at once (running or fetched ahead). Default 64. */
  readonly prefetch?: number;
  /** How soon the bus hands the jobs of a crashed process to another, ms. Default 30 000. */
  readonly ackTimeoutMs?: number;
  /**
   * A schema registry for definitions with `registry` (a client from `createSchemaRegistry`,
   * or its options). Without it such definitions cannot be enqueued or run.
   */
  readonly schemaRegistry?: SchemaRegistry | SchemaRegistryOptions;
  /** How long a job waits when the registry is unreachable for its (uncached) schema, ms. Default 2 000. */
  readonly registryRetryMs?: number;
  /**
   * Prometheus metrics (`jobbus_*`, see the README) in `metrics.registry`, through the optional
   * peer `prom-client`. Default: none, and no cost.
   */
  readonly metrics?: MetricsOptions;
  /**
   * OpenTelemetry spans through the optional peer `@opentelemetry/api`: `true` for the global
   * tracer provider, or options. Default: none, and no cost.
   */
  readonly tracing?: boolean | TracingOptions;
  /** How often workers read the group's paused queues from the bus, ms ({@link Jobbus.pause}). Default 2 000. */
  readonly controlPollMs?: number;
  /**
   * Job status (`jobs.status(id)`, `jobs.statusSnapshot()`) kept in this store, e.g.
   * `createMemoryStatusStore({ ttlMs })`; written best effort. Default: none, and no cost.
   */
  readonly status?: JobStatusStore;
}

/** What {@link Jobbus.worker} takes: the worker configuration plus its handlers. */
export type JobbusWorkerConfig = Omit<WorkerConfigInput, 'queues'> & {
  /** Queues to consume. Default: the queues of `definitions`. */
  readonly queues?: WorkerConfigInput['queues'];
  /** Handlers by job name. */
  readonly handlers?: Readonly<Record<string, JobHandler>>;
  /** Typed job definitions ({@link defineJob}) whose handlers this worker runs. */
  readonly definitions?: readonly RegistrableJob[];
};

/** The health of a jobbus instance: `up` when every check is. */
export interface JobbusHealth {
  readonly status: 'up' | 'down';
  readonly checks: readonly HealthResult[];
}

/** Options of a typed enqueue: those of {@link EnqueueOptions} plus when to run. */
export interface TypedEnqueueOptions extends EnqueueOptions {
  /** Not before this instant. */
  readonly runAt?: Date;
  /** Not before this many ms from now. */
  readonly delayMs?: number;
}

/** One item of {@link Jobbus.enqueueBulk} for a definition. */
export interface BulkItem<S extends z.ZodType> {
  readonly payload: z.input<S>;
  readonly options?: EnqueueOptions;
  readonly runAt?: Date;
}

/** An application's jobs: enqueue, workers, dead letters, health. */
export interface Jobbus {
  /** Publish a job; resolves with it once the bus durably accepted it. */
  enqueue(job: JobInput): Promise<Job>;
  /** Validate the payload against the definition's schema and publish; typed. */
  enqueue<S extends z.ZodType>(definition: JobDefinition<S>, payload: z.input<S>, options?: TypedEnqueueOptions): Promise<Job>;
  /** Publish to run at `runAt` (never earlier). */
  enqueueAt<S extends z.ZodType>(definition: JobDefinition<S>, payload: z.input<S>, runAt: Date, options?: EnqueueOptions): Promise<Job>;
  /** Publish to run in `delayMs`. */
  enqueueIn<S extends z.ZodType>(definition: JobDefinition<S>, payload: z.input<S>, delayMs: number, options?: EnqueueOptions): Promise<Job>;
  /** Publish several jobs in one batch; nothing is published when one is invalid. */
  enqueueBulk(jobs: readonly JobInput[]): Promise<Job[]>;
  /** Validate every payload, then publish all in one batch; nothing is published when one is invalid. */
  enqueueBulk<S extends z.ZodType>(definition: JobDefinition<S>, items: readonly BulkItem<S>[]): Promise<Job[]>;
  /** A worker (not started) consuming `config.queues`; call `start()`. Stopped by {@link Jobbus.close}. */
  worker(config: JobbusWorkerConfig, options?: WorkerOptions): Worker;
  /** The dead-letter queues: list, replay, purge. */
  readonly dlq: DLQStore;
  /** Counts of `queues` for this instance's group and their DLQ sizes, from the bus alone (see the README, "Queue stats"). */
  stats(queues: readonly string[]): Promise<QueueStats[]>;
  /** The last known state of a job, from the `status` store (`NotInitializedError` without one). */
  status(jobId: string): Promise<JobStatus | undefined>;
  /** Counts of the live job records by state, name and queue, from the `status` store (`NotInitializedError` without one). */
  statusSnapshot(): Promise<StatusSnapshot>;
  /** Pause `queue` for this group, on the bus: its workers start no new job of it (see src/control/control.ts). */
  pause(queue: string): Promise<void>;
  /** Resume a paused `queue` for this group. */
  resume(queue: string): Promise<void>;
  /** The queues paused for this group. */
  paused(): Promise<readonly PausedQueue[]>;
  /** Check the bus (and the leases, once a worker exists); never throws. */
  health(): Promise<JobbusHealth>;
  /** Stop the workers, release held jobs, close the bus when owned. */
  close(): Promise<void>;
  /** The bus underneath. */
  readonly bus: EventBus;
  /** The schema registry client, when `schemaRegistry` was given. */
  readonly schemaRegistry: SchemaRegistry | undefined;
  /** Payloads of `warn`-mode registry definitions that did not match and went through anyway. */
  readonly registryWarnings: RegistryWarningCounts;
}

function isDefinition(x: unknown): x is JobDefinition {
  return typeof x === 'object' && x !== null && typeof (x as JobDefinition).encode === 'function' && 'schema' in x;
}

function registryOf(given: SchemaRegistry | SchemaRegistryOptions | undefined): SchemaRegistry | undefined {
  if (!given) return undefined;
  return typeof (given as SchemaRegistry).decode === 'function' ? (given as SchemaRegistry) : createSchemaRegistry(given as SchemaRegistryOptions);
}

/**
 * Definitions registered on the worker decode through the registry (also those a caller
 * registers later with `worker.register(def)`); one naming a registry schema without a
 * registry is refused at registration, not at its first job.
 */
function bindRegistry(worker: Worker, payloads: RegistryPayloads | undefined): Worker {
  const register = worker.register.bind(worker) as (n: string | RegistrableJob, h?: JobHandler) => void;
  worker.register = ((nameOrDef: string | RegistrableJob, handler?: JobHandler) => {
    if (typeof nameOrDef === 'string' || !nameOrDef?.registry) return register(nameOrDef, handler);
    if (!payloads) {
      throw new NotInitializedError(`job "${nameOrDef.name}" names a registry schema (subject "${nameOrDef.registrySubject}"): pass schemaRegistry to createJobbus`);
    }
    return register(payloads.bind(nameOrDef), handler);
  }) as Worker['register'];
  return worker;
}

/** The DLQ store of a bus; on a bus that cannot browse, every call fails with a clear error. */
function dlqOf(bus: EventBus, names: QueueNames): DLQStore {
  if (isBrowsable(bus)) return createBusDLQStore(bus, { names });
  const refuse = (): Promise<never> =>
    Promise.reject(new NotInitializedError('this bus cannot browse its topics, so its dead-letter queues cannot be listed, replayed or purged'));
  return { listDLQ: refuse, replayDLQ: refuse, purgeDLQ: refuse, list: refuse, replay: refuse, purge: refuse };
}

/**
 * Assemble jobbus on a bus (default: in memory). A job enqueued and handled in five lines:
 *
 * ```ts
 * const jobs = createJobbus();
 * const worker = jobs.worker({ queues: ['emails'], handlers: { welcome: async (job) => console.log(payloadOf(job)) } });
 * await worker.start();
 * await jobs.enqueue({ name: 'welcome', queue: 'emails', payload: { to: 'ada@example.com' } });
 * ```
 */
export function createJobbus(options: JobbusOptions = {}): Jobbus {
  return assembleJobbus(options).jobs;
}

/** What {@link assembleJobbus} hands to `jobbus/testing`: the face and the lease backend under it. */
export interface AssembledJobbus {
  readonly jobs: Jobbus;
  /** The lease backend the workers share (made on first use). */
  leases(): RuntimeBackend;
}

/** {@link createJobbus}, with the lease backend reachable (for `jobbus/testing`; not exported from the package root). */
export function assembleJobbus(options: JobbusOptions = {}): AssembledJobbus {
  const logger = options.logger ?? defaultLogger();
  const bus = options.bus ?? createMemoryEventBus();
  const runtime = createEventBusBridge(bus, { logger, ownsBus: options.ownsBus ?? true, ...(options.names && { names: options.names }) });
  const schemaRegistry = registryOf(options.schemaRegistry);
  const registryPayloads = schemaRegistry
    ? createRegistryPayloads({ registry: schemaRegistry, logger, ...(options.registryRetryMs !== undefined && { unavailableRetryMs: options.registryRetryMs }) })
    : undefined;
  const metrics = options.metrics ? createJobbusMetrics(options.metrics) : undefined;
  const tracing = options.tracing ? createJobbusTracing(options.tracing === true ? {} : options.tracing, busKind(options.bus)) : undefined;
  const status = createStatusObserver(options.status, logger);
  const client = createJobClient(observeStatusEnqueue(observeEnqueue(runtime, metrics, tracing), status), registryPayloads ? { registryPayloads } : {});
  const readStats = (queues: readonly string[]): Promise<QueueStats[]> => queueStatsOf(bus, runtime.names, options.group ?? 'jobbus', queues);
  observeQueues(metrics, options.metrics?.queues ?? [], readStats);
  const workers = new Set<Worker>();
  const control = createQueueControl({ bus, group: options.group ?? 'jobbus', logger, ...(options.controlPollMs !== undefined && { pollMs: options.controlPollMs }) });
  let backend: RuntimeBackend | undefined;
  let state: 'open' | 'closing' | 'closed' = 'open';

  function assertOpen(): void {
    if (state !== 'open') throw new ClosedError('jobbus is closed');
  }

  /** One lease backend per instance, made on the first worker: a producer-only process needs none. */
  function leases(): RuntimeBackend {
    if (backend) return backend;
    const made = createRuntimeBackend(runtime, {
      group: options.group ?? 'jobbus',
      logger,
      ownsRuntime: false,
      ...(options.prefetch !== undefined && { maxInFlight: options.prefetch }),
      ...(options.ackTimeoutMs !== undefined && { ackTimeoutMs: options.ackTimeoutMs }),
    });
    metrics?.watchLeases(() => {
      const c = made.counters();
      return { renewals: c.leaseRenewals, expiries: c.leasesExpired };
    });
    control.attach(made); // its workers read the paused queues before taking a job
    return (backend = made);
  }

  function enqueue(job: JobInput): Promise<Job>;
  function enqueue<S extends z.ZodType>(definition: JobDefinition<S>, payload: z.input<S>, opts?: TypedEnqueueOptions): Promise<Job>;
  async function enqueue<S extends z.ZodType>(first: JobInput | JobDefinition<S>, payload?: z.input<S>, opts: TypedEnqueueOptions = {}): Promise<Job> {
    assertOpen();
    if (!isDefinition(first)) return client.enqueueJob(first);
    const { runAt, delayMs, ...rest } = opts;
    if (delayMs !== undefined) return client.enqueueIn(first, payload as z.input<S>, delayMs, rest);
    if (runAt !== undefined) return client.enqueueAt(first, payload as z.input<S>, runAt, rest);
    return client.enqueue(first, payload as z.input<S>, rest);
  }

  function enqueueBulk(jobs: readonly JobInput[]): Promise<Job[]>;
  function enqueueBulk<S extends z.ZodType>(definition: JobDefinition<S>, items: readonly BulkItem<S>[]): Promise<Job[]>;
  async function enqueueBulk<S extends z.ZodType>(first: readonly JobInput[] | JobDefinition<S>, items?: readonly BulkItem<S>[]): Promise<Job[]> {
    assertOpen();
    return isDefinition(first) ? client.enqueueBulk(first, items ?? []) : client.enqueueJobs(first as readonly JobInput[]);
  }

  const jobs: Jobbus = {
    bus,
    schemaRegistry,
    registryWarnings: registryPayloads?.warnings ?? { enqueue: 0, consume: 0 },
    enqueue,
    enqueueBulk,
    enqueueAt(definition, payload, runAt, opts) {
      assertOpen();
      return client.enqueueAt(definition, payload, runAt, opts);
    },
    enqueueIn(definition, payload, delayMs, opts) {
      assertOpen();
      return client.enqueueIn(definition, payload, delayMs, opts);
    },
    worker(config, workerOptions = {}) {
      assertOpen();
      const { handlers, definitions, queues, ...rest } = config;
      const queueList = queues ?? [...new Set((definitions ?? []).map((d) => d.queue))];
      const worker = bindRegistry(createWorker(leases(), { ...rest, queues: queueList }, { logger, ...workerOptions }), registryPayloads);
      for (const [name, handler] of Object.entries(handlers ?? {})) worker.register(name, handler);
      for (const def of definitions ?? []) worker.register(def);
      observeWorker(worker, metrics, tracing);
      observeStatusWorker(worker, status);
      observeQueues(metrics, queueList, readStats);
      workers.add(worker);
      return worker;
    },
    dlq: dlqOf(bus, runtime.names),
    ...statusQueries(status, assertOpen),
    async stats(queues) {
      assertOpen();
      return control.markPaused(await readStats(queues));
    },
    pause: async (queue) => (assertOpen(), control.pause(queue)),
    resume: async (queue) => (assertOpen(), control.resume(queue)),
    paused: async () => (assertOpen(), control.paused()),
    async health() {
      const checks = [createHealthChecker(runtime, { name: 'jobbus-bus' })];
      if (backend) checks.push(createHealthChecker(backend, { name: 'jobbus-leases' }));
      if (schemaRegistry) checks.push(createHealthChecker(schemaRegistry, { name: 'jobbus-schema-registry' }));
      const results = await Promise.all(checks.map((c) => c.check()));
      return { status: results.every((r) => r.status === 'up') ? 'up' : 'down', checks: results };
    },
    async close() {
      if (state !== 'open') return;
      state = 'closing';
      control.stop();
      try {
        await Promise.allSettled([...workers].map((w) => w.stop()));
        if (backend) await backend.close();
        await status?.recorder.flush();
        await runtime.close();
      } finally {
        metrics?.retire();
        state = 'closed';
      }
    },
  };
  return { jobs, leases };
}
