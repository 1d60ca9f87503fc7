/**
 * What a chaos scenario tells its worker child process (test/chaos/harness/worker-process.ts),
 * passed as JSON in the JOBBUS_WORKER_CONFIG environment variable, and what a job's payload tells
 * the handler to do.
 */
import type { Job, WorkerConfigInput } from '../../../src/index.js';

/** The bus the child builds, with the options a user would pass. */
export type WorkerBusConfig =
  | {
      readonly kind: 'kafka';
      readonly brokers: readonly string[];
      /** Kafka consumer group session timeout; omitted = the bus default (30 000 ms). */
      readonly sessionTimeoutMs?: number;
      /** Partitions of topics the bus creates; omitted = the bus default. */
      readonly partitions?: number;
      /** `connectionTimeoutMs` / `requestTimeoutMs` of the bus; omitted = defaults. */
      readonly connectionTimeoutMs?: number;
      readonly requestTimeoutMs?: number;
    }
  | {
      readonly kind: 'nats';
      readonly servers: string;
      readonly subjectPrefix: string;
      readonly streamPrefix: string;
      /** Ack wait of the delay-relay consumers the worker creates; omitted = the bus default (10 000 ms). */
      readonly relayAckWaitMs?: number;
    };

/** Configuration of one worker child process. */
export interface WorkerProcessConfig {
  readonly bus: WorkerBusConfig;
  /** Queue the worker consumes. */
  readonly queue: string;
  /** Job name whose handler records executions. */
  readonly jobName: string;
  /** Handler time when the payload does not say ({@link ChaosPayload.ms}), ms. */
  readonly handlerMs: number;
  /** Worker concurrency. */
  readonly concurrency: number;
  /** Further worker configuration (retry policy, lease, stop timeout); `queues` and `concurrency` are set above. */
  readonly worker?: Omit<WorkerConfigInput, 'queues' | 'concurrency'>;
  /** `createRuntimeBackend(runtime, { ackTimeoutMs })`; omitted = the backend default (30 000 ms). */
  readonly ackTimeoutMs?: number;
  /** PostgreSQL URL of the execution ledger. */
  readonly pgUrl: string;
  /** Ledger table (created by the test). */
  readonly ledgerTable: string;
  /** Every this many ms, write RSS and event-loop delay to the ledger's samples table; omitted = never. */
  readonly sampleIntervalMs?: number;
  /**
   * Subscribe before reporting ready (a reserve with a 1 ms timeout). Only for a worker started
   * before any job is enqueued: on a queue with due jobs that reserve would lease one and let its
   * lease run out unused.
   */
  readonly primeSubscription: boolean;
}

/**
 * What a chaos job asks its handler to do (all optional). The handler always records its
 * execution in the ledger first.
 */
export interface ChaosPayload {
  /** Sequence number within the scenario. */
  readonly i: number;
  /** Work this long, ms (default: the worker's handlerMs). */
  readonly ms?: number;
  /** Throw a retryable error on the first `failTimes` attempts. */
  readonly failTimes?: number;
  /** Throw a PermanentError: the job goes to the DLQ at once. */
  readonly permanent?: boolean;
  /** Ignore the abort signal and keep working this long, ms (a stuck handler). */
  readonly stuckMs?: number;
  /**
   * Be stuck ({@link stuckMs}) only on the job's first `stuckExecutions` executions, counted in
   * the ledger across processes; later executions work `ms`. Omitted = stuck on every execution.
   */
  readonly stuckExecutions?: number;
}

/**
 * The chaos payload of `job`. A job's payload travels as bytes (createJob JSON-encodes an
 * object), so it is decoded here; anything unreadable is an empty payload (default behaviour).
 */
export function chaosPayloadOf(job: Pick<Job, 'payload'>): Partial<ChaosPayload> {
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(job.payload));
    return v !== null && typeof v === 'object' ? (v as Partial<ChaosPayload>) : {};
  } catch {
    return {};
  }
}

/** The line a worker prints on stdout once it consumes. */
export const READY_LINE = 'JOBBUS_WORKER_READY';

/** Environment variable carrying the JSON {@link WorkerProcessConfig}. */
export const CONFIG_ENV = 'JOBBUS_WORKER_CONFIG';

/** A ledger table name is interpolated into SQL: allow only safe identifiers. */
export function checkTableName(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,54}$/.test(name)) throw new Error(`unsafe ledger table name: ${name}`);
  return name;
}
