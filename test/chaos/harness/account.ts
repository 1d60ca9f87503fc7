/**
 * The exact account of a chaos scenario: every enqueued job, read against the ledger's executions
 * and the broker's dead-letter queue.
 *
 * - completed: acked at least once (the worker's onCompleted hook ran), or its handler returned in
 *   a process later SIGKILLed: the hook runs after the ack, and the ack (and the offset commit
 *   past the job) may reach the broker before the hook's ledger write, which the kill cuts off.
 *   The work was done; nobody runs it again. Counted apart as `completedAtKill`.
 * - dead-lettered: found in the DLQ.
 * - lost: enqueued (its enqueue resolved), never completed and not in the DLQ; its sample lists
 *   the job's executions.
 * - early: an execution that started before the job's runAt.
 * - duplicates: executions beyond the first of one (job, attempt); a retry is a new attempt, not a
 *   duplicate.
 * - duplicate bound: how many executions a fault could have made the broker forget it had settled
 *   ("exposed" executions, read from the ledger): for a crashed process, its executions that were
 *   unsettled at the kill or settled within `windowMs` (500 ms) before it; for a broker or network fault,
 *   every execution unsettled or settled during the fault (± windowMs). Every duplicated
 *   (job, attempt) must have an exposed first execution, so duplicates <= bound.
 */
import type { Enqueued, Execution } from './ledger.js';

/**
 * A time during which settlements may be forgotten; or (`due`) the jobs due within a span, every
 * execution of which is exposed: what a crashed delay relay may have forwarded without recording
 * it, which the ledger cannot see (the copy runs later, in another process, settled normally).
 */
export type FaultWindow = TimeFault | { readonly what: string; readonly due: { readonly from: number; readonly to: number } };

/** A fault over a span of time (a crash, an outage). */
export interface TimeFault {
  readonly what: string;
  /** Only executions of this process; omitted = every process. */
  readonly pid?: number;
  readonly from: number;
  /** Omitted = the process never came back (a crash): everything it had unsettled is exposed. */
  readonly to?: number;
}

/** Percentiles of a list of durations, ms. */
export interface Spread {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** What a scenario reports about its jobs. */
export interface Account {
  readonly enqueued: number;
  readonly completed: number;
  /** Of `completed`: jobs whose only success is a handler that returned in a killed process (ack not recorded). */
  readonly completedAtKill: number;
  readonly deadLettered: number;
  readonly lost: number;
  readonly early: number;
  readonly duplicates: number;
  readonly duplicateBound: number;
  readonly executions: number;
  /** Jobs expected to complete that were dead-lettered, and jobs expected dead that completed. */
  readonly wrongOutcome: number;
  /** First start minus runAt, over every job that ran. */
  readonly lateness: Spread;
  /** A few per problem, for the hunt, each starting with the job id. */
  readonly samples: { readonly lost: string[]; readonly early: string[]; readonly unexplainedDuplicates: string[]; readonly wrongOutcome: string[] };
}

/** p50 / p99 / max of `xs`. */
export function spread(xs: readonly number[]): Spread {
  if (xs.length === 0) return { n: 0, p50: 0, p99: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const pick = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { n: s.length, p50: pick(0.5), p99: pick(0.99), max: s[s.length - 1]! };
}

const settledAt = (e: Execution): number | null => e.ackedAt ?? (e.outcome !== null ? e.finishedAt : null);

function exposed(e: Execution, faults: readonly FaultWindow[], windowMs: number): boolean {
  return faults.some((f) => {
    if ('due' in f) return e.runAt >= f.due.from && e.runAt <= f.due.to;
    if (f.pid !== undefined && f.pid !== e.pid) return false;
    const to = f.to ?? Infinity;
    if (e.startedAt > to + windowMs) return false;
    const s = settledAt(e);
    return s === null || (s >= f.from - windowMs && s <= to + windowMs);
  });
}

/** Inputs of {@link account}. */
export interface AccountInput {
  readonly enqueued: readonly Enqueued[];
  readonly executions: readonly Execution[];
  /** Job ids found in the DLQ. */
  readonly deadLetterIds: ReadonlySet<string>;
  readonly faults?: readonly FaultWindow[];
  /** Worker processes that died by SIGKILL. */
  readonly killedPids?: ReadonlySet<number>;
  /** Slack around a fault for settlements in transit (an ack or offset commit not yet stored). Default 500 ms (the Kafka adapter commits settled offsets behind a slow one every 200 ms). */
  readonly windowMs?: number;
}

/** Turn the ledger and the DLQ into the scenario's account. */
export function account({ enqueued, executions, deadLetterIds, faults = [], killedPids = new Set(), windowMs = 500 }: AccountInput): Account {
  const runAtOf = new Map(enqueued.map((j) => [j.id, j.runAt]));
  const byAttempt = new Map<string, Execution[]>();
  const byJob = new Map<string, Execution[]>();
  const completed = new Set<string>();
  const returnedAtKill = new Set<string>();
  const firstStart = new Map<string, number>();
  for (const e of executions) {
    const k = `${e.jobId}\u0000${e.attempt}`;
    const list = byAttempt.get(k) ?? [];
    list.push(e);
    byAttempt.set(k, list);
    const ofJob = byJob.get(e.jobId) ?? [];
    ofJob.push(e);
    byJob.set(e.jobId, ofJob);
    if (e.ackedAt !== null) completed.add(e.jobId);
    else if (e.returned && killedPids.has(e.pid)) returnedAtKill.add(e.jobId);
    if (!firstStart.has(e.jobId)) firstStart.set(e.jobId, e.startedAt);
  }
  const completedAtKill = [...returnedAtKill].filter((id) => !completed.has(id));
  for (const id of completedAtKill) completed.add(id);
  let duplicates = 0;
  const unexplained: string[] = [];
  for (const [k, list] of byAttempt) {
    if (list.length < 2) continue;
    duplicates += list.length - 1;
    // Every execution but the last must have been exposed to a fault, or nothing explains the rerun.
    if (!list.slice(0, -1).every((e) => exposed(e, faults, windowMs))) {
      const [id, attempt] = k.split('\u0000');
      unexplained.push(`${id} attempt ${attempt} (ms after runAt): ${describeExecutions(list, runAtOf.get(id!))}`);
    }
  }
  const early = executions.filter((e) => e.startedAt < (runAtOf.get(e.jobId) ?? e.runAt));
  const lost = enqueued.filter((j) => !completed.has(j.id) && !deadLetterIds.has(j.id));
  const wrong = enqueued.filter((j) => (j.expect === 'complete' ? deadLetterIds.has(j.id) && !completed.has(j.id) : completed.has(j.id)));
  return {
    enqueued: enqueued.length,
    completed: enqueued.filter((j) => completed.has(j.id)).length,
    completedAtKill: completedAtKill.length,
    deadLettered: enqueued.filter((j) => deadLetterIds.has(j.id)).length,
    lost: lost.length,
    early: early.length,
    duplicates,
    duplicateBound: executions.filter((e) => exposed(e, faults, windowMs)).length,
    executions: executions.length,
    wrongOutcome: wrong.length,
    lateness: spread(enqueued.filter((j) => firstStart.has(j.id)).map((j) => firstStart.get(j.id)! - j.runAt)),
    samples: {
      lost: lost.slice(0, 5).map((j) => `${j.id} (ms after runAt: ${describeExecutions(byJob.get(j.id) ?? [], j.runAt) || 'never started'})`),
      early: early.slice(0, 5).map((e) => `${e.jobId} ${(runAtOf.get(e.jobId) ?? e.runAt) - e.startedAt} ms early`),
      unexplainedDuplicates: unexplained.slice(0, 5),
      wrongOutcome: wrong.slice(0, 5).map((j) => `${j.id} expected ${j.expect}`),
    },
  };
}

/** Each execution of `list`: process, start, end and settle, in ms after `runAt` (the first's when unknown). */
function describeExecutions(list: readonly Execution[], runAt: number | undefined): string {
  const t0 = runAt ?? list[0]?.runAt ?? 0;
  const at = (t: number | null): string => (t === null ? '-' : `${t - t0}`);
  const settled = (e: Execution): string => (e.ackedAt !== null ? `acked ${at(e.ackedAt)}` : (e.outcome ?? (e.returned ? 'returned, unacked' : 'unsettled')));
  return list.map((e) => `attempt ${e.attempt} pid ${e.pid} start ${at(e.startedAt)} end ${at(e.finishedAt)} ${settled(e)}`).join(', ');
}
