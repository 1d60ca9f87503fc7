/**
 * What a reliability test tells its worker child process (test/reliability/worker-process.ts),
 * passed as JSON in the JOBBUS_WORKER_CONFIG environment variable.
 */

/** The bus the child builds, with the options a user would pass. */
export type WorkerBusConfig =
  | {
      readonly kind: 'kafka';
      readonly brokers: readonly string[];
      /** Kafka consumer group session timeout; omitted = the bus default (30 000 ms). */
      readonly sessionTimeoutMs?: number;
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
  /** How long the handler works, ms. */
  readonly handlerMs: number;
  /** Worker concurrency. */
  readonly concurrency: number;
  /** `createRuntimeBackend(runtime, { ackTimeoutMs })`; omitted = the backend default (30 000 ms). */
  readonly ackTimeoutMs?: number;
  /** PostgreSQL URL of the execution ledger. */
  readonly pgUrl: string;
  /** Ledger table (created by the test). */
  readonly ledgerTable: string;
  /**
   * Subscribe before reporting ready (a reserve with a 1 ms timeout). Only for a worker started
   * before any job is enqueued: on a queue with due jobs that reserve would lease one and let its
   * lease run out unused.
   */
  readonly primeSubscription: boolean;
}

/** The line a worker prints on stdout once it consumes. */
export const READY_LINE = 'JOBBUS_WORKER_READY';

/** Environment variable carrying the JSON {@link WorkerProcessConfig}. */
export const CONFIG_ENV = 'JOBBUS_WORKER_CONFIG';

/** A ledger table name is interpolated into SQL: allow only safe identifiers. */
export function checkTableName(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`unsafe ledger table name: ${name}`);
  return name;
}
