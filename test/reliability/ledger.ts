/**
 * The execution ledger of the reliability tests: one PostgreSQL table per scenario, written by
 * the worker processes (worker-process.ts), read by the test. It lives outside the system under
 * test, so it still tells the truth after a worker was killed.
 */
import pg from 'pg';
import { checkTableName } from './worker-config.js';

/** One handler execution as the ledger recorded it (times in epoch ms). */
export interface Execution {
  readonly jobId: string;
  readonly attempt: number;
  readonly pid: number;
  readonly startedAt: number;
  readonly runAt: number;
  /** Set when the handler's work completed; null if the process died first. */
  readonly finishedAt: number | null;
  /** Set by the worker's onCompleted hook (the backend acked the job); null if it never got there. */
  readonly ackedAt: number | null;
}

/** A ledger table and a client to read it. */
export interface Ledger {
  readonly table: string;
  /** How many distinct jobs have started at least once. */
  distinctJobs(): Promise<number>;
  /** Every execution, oldest start first. */
  executions(): Promise<Execution[]>;
  /** Drop the table and disconnect. */
  drop(): Promise<void>;
}

interface Row {
  job_id: string;
  attempt: number;
  pid: number;
  started_at: string;
  run_at: string;
  finished_at: string | null;
  acked_at: string | null;
}

/** Create a fresh ledger table named `table` (dropped first if an earlier run left it). */
export async function createLedger(pgUrl: string, table: string): Promise<Ledger> {
  const t = checkTableName(table);
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  await client.query(`drop table if exists ${t}`);
  await client.query(
    `create table ${t} (
       id bigserial primary key,
       job_id text not null,
       attempt int not null,
       pid int not null,
       started_at bigint not null,
       run_at bigint not null,
       finished_at bigint,
       acked_at bigint
     )`,
  );
  const num = (v: string | null): number | null => (v === null ? null : Number(v));
  return {
    table: t,
    async distinctJobs() {
      const r = await client.query<{ n: string }>(`select count(distinct job_id) as n from ${t}`);
      return Number(r.rows[0]!.n);
    },
    async executions() {
      const r = await client.query<Row>(`select * from ${t} order by started_at, id`);
      return r.rows.map((x) => ({
        jobId: x.job_id,
        attempt: x.attempt,
        pid: x.pid,
        startedAt: Number(x.started_at),
        runAt: Number(x.run_at),
        finishedAt: num(x.finished_at),
        ackedAt: num(x.acked_at),
      }));
    },
    async drop() {
      try {
        await client.query(`drop table if exists ${t}`);
      } finally {
        await client.end();
      }
    },
  };
}
