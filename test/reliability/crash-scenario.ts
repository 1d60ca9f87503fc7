/**
 * "Crash with delayed jobs" (issue 13), shared by the test (crash-delayed.test.ts) and the
 * measurement script (measure-crash-defaults.ts):
 *
 *   t < 0     worker A (a separate process) consumes; N jobs are enqueued with runAt spread
 *             uniformly over [T0, T0 + spreadMs)
 *   T0 + killAtMs      A is killed with SIGKILL (a real crash: no drain, no commit, no ack)
 *   T0 + restartAtMs   worker B (a new process, same group) starts
 *   until every job has started at least once (polling the PostgreSQL ledger)
 *
 * The report says what was lost, what ran early, what ran twice and why, and how late the jobs
 * A had in flight came back.
 */
import { createJob, type Job } from '../../src/index.js';
import { createLedger, type Execution } from './ledger.js';
import { startWorkerProcess, type WorkerProcess } from './processes.js';
import type { WorkerBusConfig, WorkerProcessConfig } from './worker-config.js';

/** Inputs of {@link runCrashScenario}. */
export interface CrashScenarioOptions {
  readonly bus: WorkerBusConfig;
  readonly queue: string;
  /** Publishes jobs that share one due time (the test's own runtime; the workers are separate processes). */
  readonly enqueueBatch: (jobs: Job[]) => Promise<void>;
  readonly pgUrl: string;
  readonly ledgerTable: string;
  /** Backend ack timeout of the worker processes; omitted = default. */
  readonly ackTimeoutMs?: number;
  readonly jobs?: number;
  readonly spreadMs?: number;
  readonly killAtMs?: number;
  readonly restartAtMs?: number;
  readonly handlerMs?: number;
  readonly concurrency?: number;
  /**
   * Due times are spread uniformly over spreadMs in steps of this many ms (jobs sharing a step
   * go out in one batch: a publish per distinct due time made Kafka's enqueue take 8 s).
   */
  readonly dueStepMs?: number;
  /** Time from the end of A's start-up to T0, covering the enqueue. */
  readonly leadMs?: number;
  /** Give up waiting for the last job this long after T0. */
  readonly completeWithinMs?: number;
  /**
   * A duplicate is "explained" by the crash when A had the job in flight (started, not acked),
   * or acked it at most this long before the kill (its offset or ack may not have reached the
   * broker), or never ran it (a relay copy, see {@link CrashReport.duplicateCauses}).
   */
  readonly inFlightWindowMs?: number;
  /** Progress lines (timeline). */
  readonly log?: (line: string) => void;
}

/** Percentiles of a list of durations, ms. */
export interface Spread {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** What happened. */
export interface CrashReport {
  readonly jobs: number;
  readonly executions: number;
  /** Jobs that never started before the scenario gave up waiting (completeWithinMs), with their due time. */
  readonly lost: string[];
  /** Executions that started before the job's runAt. */
  readonly early: Execution[];
  /** Executions beyond the first of each job. */
  readonly duplicates: number;
  /** Duplicated jobs not explained by what A had in flight (see inFlightWindowMs), with what the ledger says of them. */
  readonly unexplainedDuplicates: string[];
  /**
   * Duplicated jobs by what A had done with them at the crash. `relayCopy`: A never ran the job,
   * B ran it twice: two copies reached the queue, from a delay relay of A that forwarded (or
   * hopped) a batch and died before recording it (at-least-once forwarding).
   */
  readonly duplicateCauses: Record<'aUnfinished' | 'aFinishedNotAcked' | 'aAckedJustBefore' | 'relayCopy' | 'other', number>;
  readonly aExecutions: number;
  /** A's executions that never finished / were never acked: in flight at the crash. */
  readonly aUnfinished: number;
  readonly aUnacked: number;
  /** Those in-flight jobs: B's start minus the kill, and minus their runAt. */
  readonly inFlightBackAfterKill: Spread;
  readonly inFlightLateVsRunAt: Spread;
  /** First execution minus runAt, over all jobs, over jobs due before and after the kill. */
  readonly lateness: Spread;
  readonly latenessDueBeforeKill: Spread;
  readonly latenessDueAfterKill: Spread;
  /** Jobs whose first run came more than 10 s after their runAt: due time relative to the kill, ms. */
  readonly over10sLateDueVsKill: number[];
  /** Relative to the kill: B's spawn → ready, B's first execution. */
  readonly bReadyAfterKillMs: number;
  readonly bFirstRunAfterKillMs: number;
  /** Enqueue finished this long before T0 (negative: after). */
  readonly enqueueMarginMs: number;
  readonly totalMs: number;
}

function spread(xs: number[]): Spread {
  if (xs.length === 0) return { n: 0, p50: NaN, p99: NaN, max: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const pick = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { n: s.length, p50: pick(0.5), p99: pick(0.99), max: s[s.length - 1]! };
}

const until = (epochMs: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, epochMs - Date.now())));

/** Run the scenario; always kills its processes and drops its ledger table. */
export async function runCrashScenario(o: CrashScenarioOptions): Promise<CrashReport> {
  const n = o.jobs ?? 1_000;
  const spreadMs = o.spreadMs ?? 10_000;
  const killAtMs = o.killAtMs ?? 5_000;
  const restartAtMs = o.restartAtMs ?? 7_000;
  const window = o.inFlightWindowMs ?? 2_000;
  const log = o.log ?? (() => undefined);
  const jobName = 'crash-job';
  const ledger = await createLedger(o.pgUrl, o.ledgerTable);
  const workerConfig = (prime: boolean): WorkerProcessConfig => ({
    bus: o.bus,
    queue: o.queue,
    jobName,
    handlerMs: o.handlerMs ?? 5,
    concurrency: o.concurrency ?? 16,
    ...(o.ackTimeoutMs !== undefined && { ackTimeoutMs: o.ackTimeoutMs }),
    pgUrl: o.pgUrl,
    ledgerTable: ledger.table,
    primeSubscription: prime,
  });
  const started = Date.now();
  let a: WorkerProcess | undefined;
  let b: WorkerProcess | undefined;
  try {
    a = startWorkerProcess(workerConfig(true));
    await a.ready;
    const t0 = Date.now() + (o.leadMs ?? 4_000);
    log(`A (pid ${a.pid}) ready after ${Date.now() - a.spawnedAt} ms; T0 in ${t0 - Date.now()} ms`);
    const step = o.dueStepMs ?? 50;
    const jobs = Array.from({ length: n }, (_, i) =>
      createJob({ name: jobName, queue: o.queue, payload: { i }, runAt: new Date(t0 + Math.floor((i * spreadMs) / n / step) * step) }),
    );
    const runAtOf = new Map(jobs.map((j) => [j.id, j.runAt.getTime()]));
    const byDue = new Map<number, Job[]>();
    for (const j of jobs) {
      const due = j.runAt.getTime();
      if (!byDue.has(due)) byDue.set(due, []);
      byDue.get(due)!.push(j);
    }
    const batches = [...byDue.values()];
    for (let i = 0; i < batches.length; i += 10) await Promise.all(batches.slice(i, i + 10).map((b) => o.enqueueBatch(b)));
    const enqueueMarginMs = t0 - Date.now();
    log(`enqueued ${n} jobs, ${enqueueMarginMs} ms before T0`);

    await until(t0 + killAtMs);
    const killedAt = Date.now();
    await a.crash();
    log(`A killed at T0+${killedAt - t0} ms`);
    await until(t0 + restartAtMs);
    b = startWorkerProcess(workerConfig(false));
    const bReadyAt = await b.ready;
    log(`B (pid ${b.pid}) spawned at T0+${b.spawnedAt - t0} ms, ready at T0+${bReadyAt - t0} ms`);
    const deadline = t0 + (o.completeWithinMs ?? 45_000);
    let done = 0;
    while ((done = await ledger.distinctJobs()) < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    log(`${done}/${n} jobs started by T0+${Date.now() - t0} ms`);
    await b.stop();

    return analyse({ execs: await ledger.executions(), runAtOf, aPid: a.pid, bPid: b.pid, killedAt, bReadyAt, window, enqueueMarginMs, started });
  } catch (err) {
    const tail = (p: WorkerProcess | undefined, name: string): string => (p ? `\n--- ${name} stderr ---\n${p.stderr()}` : '');
    if (err instanceof Error) err.message += tail(a, 'A') + tail(b, 'B');
    throw err;
  } finally {
    await Promise.allSettled([a?.crash(), b?.crash()]);
    await ledger.drop();
  }
}

/** What {@link analyse} reads. */
interface RunFacts {
  readonly execs: Execution[];
  /** Every enqueued job id and its runAt. */
  readonly runAtOf: ReadonlyMap<string, number>;
  readonly aPid: number;
  readonly bPid: number;
  readonly killedAt: number;
  readonly bReadyAt: number;
  readonly window: number;
  readonly enqueueMarginMs: number;
  readonly started: number;
}

/** Turn the ledger into the report. */
function analyse({ execs, runAtOf, aPid, bPid, killedAt, bReadyAt, window, enqueueMarginMs, started }: RunFacts): CrashReport {
  const byJob = new Map<string, Execution[]>();
  for (const e of execs) {
    const list = byJob.get(e.jobId) ?? [];
    list.push(e);
    byJob.set(e.jobId, list);
  }
  const aExecs = execs.filter((e) => e.pid === aPid);
  const inFlight = aExecs.filter((e) => e.ackedAt === null);
  const backAfterKill: number[] = [];
  const lateVsRunAt: number[] = [];
  for (const e of inFlight) {
    const again = byJob.get(e.jobId)!.find((x) => x.pid !== aPid);
    if (again) {
      backAfterKill.push(again.startedAt - killedAt);
      lateVsRunAt.push(again.startedAt - e.runAt);
    }
  }
  const causes: CrashReport['duplicateCauses'] = { aUnfinished: 0, aFinishedNotAcked: 0, aAckedJustBefore: 0, relayCopy: 0, other: 0 };
  const unexplained: string[] = [];
  for (const [id, list] of byJob) {
    if (list.length < 2) continue;
    const byA = list.filter((e) => e.pid === aPid);
    const runAt = runAtOf.get(id)!;
    if (byA.some((e) => e.finishedAt === null)) causes.aUnfinished++;
    else if (byA.some((e) => e.ackedAt === null)) causes.aFinishedNotAcked++;
    else if (byA.some((e) => e.ackedAt !== null && killedAt - e.ackedAt <= window)) causes.aAckedJustBefore++;
    else if (byA.length === 0) causes.relayCopy++;
    else {
      causes.other++;
      const acked = byA.map((e) => (e.ackedAt === null ? 'unacked' : `acked ${killedAt - e.ackedAt} ms before the kill`));
      unexplained.push(`${id}: due ${runAt - killedAt} ms after the kill; A: ${acked.join(', ') || 'never ran it'}; runs by ${list.map((e) => e.pid).join(',')}`);
    }
  }
  const first = [...byJob.values()].map((l) => l[0]!);
  const dueOf = (e: Execution): number => runAtOf.get(e.jobId) ?? e.runAt;
  const late = (e: Execution): number => e.startedAt - dueOf(e);
  return {
    jobs: runAtOf.size,
    executions: execs.length,
    lost: [...runAtOf].filter(([id]) => !byJob.has(id)).map(([id, due]) => `${id} (due ${due - killedAt} ms after the kill)`),
    early: execs.filter((e) => late(e) < 0),
    duplicates: execs.length - byJob.size,
    unexplainedDuplicates: unexplained,
    duplicateCauses: causes,
    aExecutions: aExecs.length,
    aUnfinished: aExecs.filter((e) => e.finishedAt === null).length,
    aUnacked: inFlight.length,
    inFlightBackAfterKill: spread(backAfterKill),
    inFlightLateVsRunAt: spread(lateVsRunAt),
    lateness: spread(first.map(late)),
    latenessDueBeforeKill: spread(first.filter((e) => dueOf(e) <= killedAt).map(late)),
    latenessDueAfterKill: spread(first.filter((e) => dueOf(e) > killedAt).map(late)),
    over10sLateDueVsKill: first.filter((e) => late(e) > 10_000).map((e) => dueOf(e) - killedAt),
    bReadyAfterKillMs: bReadyAt - killedAt,
    bFirstRunAfterKillMs: (execs.find((e) => e.pid === bPid)?.startedAt ?? NaN) - killedAt,
    enqueueMarginMs,
    totalMs: Date.now() - started,
  };
}

/** One line per figure, for logs and the report. */
export function formatReport(bus: string, r: CrashReport): string {
  const s = (x: Spread): string => `n=${x.n} p50=${x.p50} p99=${x.p99} max=${x.max} ms`;
  return [
    `[${bus}] jobs=${r.jobs} executions=${r.executions} lost=${r.lost.length} early=${r.early.length} duplicates=${r.duplicates} (${JSON.stringify(r.duplicateCauses)})`,
    `[${bus}] A ran ${r.aExecutions}, in flight at the crash: ${r.aUnfinished} unfinished, ${r.aUnacked} not acked`,
    `[${bus}] in-flight jobs back after the kill: ${s(r.inFlightBackAfterKill)}; late vs runAt: ${s(r.inFlightLateVsRunAt)}`,
    `[${bus}] B ready ${r.bReadyAfterKillMs} ms after the kill, first B run ${r.bFirstRunAfterKillMs} ms after it`,
    `[${bus}] lateness all: ${s(r.lateness)}; due before the kill: ${s(r.latenessDueBeforeKill)}; after: ${s(r.latenessDueAfterKill)}`,
    `[${bus}] ${r.over10sLateDueVsKill.length} jobs ran > 10 s late, due at (ms vs the kill): ${r.over10sLateDueVsKill.slice(0, 20).join(' ')}`,
    ...r.unexplainedDuplicates.slice(0, 5).map((d) => `[${bus}] unexplained duplicate ${d}`),
    `[${bus}] enqueue margin ${r.enqueueMarginMs} ms, total ${r.totalMs} ms`,
  ].join('\n');
}
