/**
 * The ledger of the chaos scenarios, in PostgreSQL, outside the system under test, so it still
 * tells the truth after a worker or a broker was killed. Three tables per scenario run:
 *
 * - `<t>`: one row per handler execution, written by the worker processes (worker-process.ts):
 *   started_at (row inserted before the work) -> finished_at (the handler returned or threw) ->
 *   acked_at (the worker's onCompleted hook: the backend acked) or outcome 'retry' / 'dead'.
 * - `<t>_jobs`: every job whose enqueue resolved, with its runAt and what it should end as.
 * - `<t>_samples`: RSS and event-loop delay samples of the worker processes.
 * - `<t>_errors`: what the workers' onError hook reported (a settle refused because the lease
 *   expired, a reserve that failed), with the job id when there is one.
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
  /** Set when the handler returned or threw; null if the process died first. */
  readonly finishedAt: number | null;
  /** Set by the worker's onCompleted hook (the backend acked the job); null if it never got there. */
  readonly ackedAt: number | null;
  /** 'retry' or 'dead' as the worker's hooks reported the failure; null otherwise. */
  readonly outcome: 'retry' | 'dead' | null;
  /** The handler returned (did not throw); written with finishedAt. */
  readonly returned: boolean;
}

/** What a job should end as. */
export type Expectation = 'complete' | 'dead';

/** A job whose enqueue resolved. */
export interface Enqueued {
  readonly id: string;
  readonly runAt: number;
  readonly expect: Expectation;
}

/** One resource sample of a worker process. */
export interface Sample {
  readonly pid: number;
  readonly at: number;
  readonly rssBytes: number;
  /** Event-loop delay over the sample interval: max and p99, ms. */
  readonly lagMaxMs: number;
  readonly lagP99Ms: number;
}

/** One error a worker's onError hook reported. */
export interface WorkerErrorRecord {
  readonly pid: number;
  readonly at: number;
  readonly jobId: string | null;
  /** The error's `code` (e.g. LEASE_EXPIRED) or its name. */
  readonly code: string;
  readonly message: string;
}

/** A ledger and a client to write and read it. */
export interface Ledger {
  readonly table: string;
  /** Record jobs whose enqueue resolved. */
  recordEnqueued(jobs: readonly Enqueued[]): Promise<void>;
  enqueued(): Promise<Enqueued[]>;
  /**
   * Distinct jobs completed (acked at least once, or whose handler returned in one of the
   * `killed` processes: see account.ts), and distinct jobs the worker dead-lettered.
   */
  progress(killed?: readonly number[]): Promise<{ completed: number; dead: number; started: number }>;
  /** Every execution, oldest start first. */
  executions(): Promise<Execution[]>;
  samples(): Promise<Sample[]>;
  /** What the workers' onError hooks reported, oldest first. */
  errors(): Promise<WorkerErrorRecord[]>;
  /** Drop the tables and disconnect. */
  drop(): Promise<void>;
}

interface ExecRow {
  job_id: string;
  attempt: number;
  pid: number;
  started_at: string;
  run_at: string;
  finished_at: string | null;
  acked_at: string | null;
  outcome: 'retry' | 'dead' | null;
  returned: boolean;
}

/** The DDL of the execution table, shared with worker-process.ts's expectations. */
function ddl(t: string): string[] {
  return [
    `create table ${t} (
       id bigserial primary key, job_id text not null, attempt int not null, pid int not null,
       started_at bigint not null, run_at bigint not null, finished_at bigint, acked_at bigint, outcome text,
       returned boolean not null default false)`,
    `create index on ${t} (job_id)`,
    `create table ${t}_jobs (job_id text primary key, run_at bigint not null, expect text not null)`,
    `create table ${t}_samples (pid int not null, at bigint not null, rss bigint not null, lag_max double precision not null, lag_p99 double precision not null)`,
    `create table ${t}_errors (pid int not null, at bigint not null, job_id text, code text not null, message text not null)`,
  ];
}

async function dropTables(client: pg.Client, t: string): Promise<void> {
  await client.query(`drop table if exists ${t}, ${t}_jobs, ${t}_samples, ${t}_errors`);
}

/** Create a fresh ledger named `table` (its tables dropped first if an earlier run left them). */
export async function createLedger(pgUrl: string, table: string): Promise<Ledger> {
  const t = checkTableName(table);
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  await dropTables(client, t);
  for (const q of ddl(t)) await client.query(q);
  const num = (v: string | null): number | null => (v === null ? null : Number(v));
  return {
    table: t,
    async recordEnqueued(jobs) {
      if (jobs.length === 0) return;
      await client.query(`insert into ${t}_jobs (job_id, run_at, expect) select * from unnest($1::text[], $2::bigint[], $3::text[])`, [
        jobs.map((j) => j.id),
        jobs.map((j) => j.runAt),
        jobs.map((j) => j.expect),
      ]);
    },
    async enqueued() {
      const r = await client.query<{ job_id: string; run_at: string; expect: Expectation }>(`select * from ${t}_jobs`);
      return r.rows.map((x) => ({ id: x.job_id, runAt: Number(x.run_at), expect: x.expect }));
    },
    async progress(killed = []) {
      const r = await client.query<{ completed: string; dead: string; started: string }>(
        `select count(distinct job_id) filter (where acked_at is not null or (returned and pid = any($1::int[]))) as completed,
                count(distinct job_id) filter (where outcome = 'dead') as dead,
                count(distinct job_id) as started from ${t}`,
        [killed],
      );
      const row = r.rows[0]!;
      return { completed: Number(row.completed), dead: Number(row.dead), started: Number(row.started) };
    },
    async executions() {
      const r = await client.query<ExecRow>(`select * from ${t} order by started_at, id`);
      return r.rows.map((x) => ({
        jobId: x.job_id,
        attempt: x.attempt,
        pid: x.pid,
        startedAt: Number(x.started_at),
        runAt: Number(x.run_at),
        finishedAt: num(x.finished_at),
        ackedAt: num(x.acked_at),
        outcome: x.outcome,
        returned: x.returned,
      }));
    },
    async samples() {
      const r = await client.query<{ pid: number; at: string; rss: string; lag_max: number; lag_p99: number }>(`select * from ${t}_samples order by at`);
      return r.rows.map((x) => ({ pid: x.pid, at: Number(x.at), rssBytes: Number(x.rss), lagMaxMs: x.lag_max, lagP99Ms: x.lag_p99 }));
    },
    async errors() {
      const r = await client.query<{ pid: number; at: string; job_id: string | null; code: string; message: string }>(`select * from ${t}_errors order by at`);
      return r.rows.map((x) => ({ pid: x.pid, at: Number(x.at), jobId: x.job_id, code: x.code, message: x.message }));
    },
    async drop() {
      try {
        await dropTables(client, t);
      } finally {
        await client.end();
      }
    },
  };
}
