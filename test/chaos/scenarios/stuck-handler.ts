/**
 * Scenario 6, long and stuck handlers: a handler that ignores its abort signal and runs far past
 * its attempt timeout and its lease while thousands of other jobs complete, then a crash of the
 * process holding such an attempt. Two worker processes in one group.
 *
 *   A, B ready -> phase 1: enqueue stuck job S1 (stuck STUCK_MS on its first execution only)
 *   and N normal jobs (5-50 ms) -> every phase-1 job settled
 *   -> phase 2: enqueue stuck job S2 and N normal jobs -> once S2's first execution has run past
 *   its attempt timeout plus a lease: SIGKILL the process running it, start a replacement
 *   -> every job settled
 *
 * Checked from the ledger (executions, and the workers' onError reports):
 * - S1's first execution really outlived its timeout and lease (finished >= STUCK_MS after it
 *   started) and produced no ack: the worker stops renewing a timed-out attempt's lease, so the
 *   lease lapsed and its late settle was refused (LEASE_EXPIRED, reported through onError);
 * - S1 was redelivered once the lease expired: it ran again while the stuck execution still
 *   ran, no earlier than its attempt timeout after the first start, and was acked exactly once;
 * - no stall: every phase-1 normal job was acked before S1's stuck execution ended (the figure
 *   `phase1OthersDoneAfterMs` says how soon after the stuck start the last of them was);
 * - the crash: S2 completed; lost 0, early 0, duplicates within the bound: what the killed
 *   process held (its unsettled executions, or settled in the 0.5 s before the kill) plus the
 *   stuck executions whose lease lapsed.
 */
import type { Execution, WorkerErrorRecord } from '../harness/ledger.js';
import { beginRun, chaosJobs, enqueueAll, pollUntil, sleep, standardChecks, type Check, type EnqueueTally, type Run, type ScenarioResult } from '../harness/drive.js';
import type { ChaosTarget } from '../harness/target.js';
import { bySize, handlerMsOf, type Size } from './sizes.js';

/** Worker settings of the scenario: a short timeout and lease so a stuck handler outlives both quickly. */
const ATTEMPT_TIMEOUT_MS = 1_000;
const LEASE_TTL_MS = 1_500;
const ACK_TIMEOUT_MS = 3_000;

/** What the ledger says about one stuck job. */
interface StuckStory {
  readonly first: Execution | undefined;
  readonly later: readonly Execution[];
  readonly acks: number;
  readonly refusals: number;
}

function storyOf(id: string, executions: readonly Execution[], errors: readonly WorkerErrorRecord[]): StuckStory {
  const mine = executions.filter((e) => e.jobId === id);
  return {
    first: mine[0],
    later: mine.slice(1),
    acks: mine.filter((e) => e.ackedAt !== null).length,
    refusals: errors.filter((e) => e.jobId === id && e.code === 'LEASE_EXPIRED').length,
  };
}

const fmt = (e: Execution | undefined, t0: number): string =>
  e ? `pid ${e.pid} attempt ${e.attempt} start +${e.startedAt - t0} end ${e.finishedAt === null ? '-' : `+${e.finishedAt - t0}`} ${e.ackedAt !== null ? 'acked' : (e.outcome ?? 'unsettled')}` : 'none';

/** How the stuck execution ended: acked, a failed attempt ('retry'/'dead'), a refused settle, or nothing. */
function outcomeOf(s: StuckStory): string {
  if (!s.first) return 'never ran';
  if (s.first.ackedAt !== null) return 'acked';
  return s.first.outcome ?? (s.refusals > 0 ? 'settle refused' : 'none');
}

/** Enqueue one stuck job (first in line) and `n` normal ones; returns the stuck job's id. */
async function enqueuePhase(run: Run, n: number, stuckMs: number, offset: number): Promise<{ stuckId: string; normalIds: string[]; tally: EnqueueTally }> {
  const [stuck] = chaosJobs(run.queue, 1, () => ({ i: offset, stuckMs, stuckExecutions: 1 }));
  const normal = chaosJobs(run.queue, n, (i) => ({ i: offset + 1 + i, ms: handlerMsOf(i) }));
  const tally = await enqueueAll(run.producer, run.ledger, [stuck!], 1);
  const rest = await enqueueAll(run.producer, run.ledger, normal, 200);
  return {
    stuckId: stuck!.id,
    normalIds: normal.map((j) => j.id),
    tally: { resolved: tally.resolved + rest.resolved, retryableErrors: tally.retryableErrors + rest.retryableErrors, otherErrors: tally.otherErrors + rest.otherErrors },
  };
}

/** Run scenario 6 on `target`. */
export async function stuckHandler(target: ChaosTarget, size: Size): Promise<ScenarioResult> {
  const started = Date.now();
  const n = bySize(size, 1_000, 5_000);
  const stuckMs = bySize(size, 12_000, 30_000);
  const run = await beginRun({
    target,
    name: 'stuck',
    worker: {
      handlerMs: 20,
      concurrency: 16,
      ackTimeoutMs: ACK_TIMEOUT_MS,
      worker: { leaseTtlMs: LEASE_TTL_MS, retry: { attemptTimeoutMs: ATTEMPT_TIMEOUT_MS, maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 500 } },
    },
  });
  try {
    await Promise.all([run.startWorker(true), run.startWorker(true)]);

    // Phase 1: a stuck handler among N others, no fault.
    const p1 = await enqueuePhase(run, n, stuckMs, 0);
    const settled1 = await run.waitSettled(stuckMs + 60_000);
    // The rerun settles long before the stuck execution ends: wait for its end and its refused settle.
    await pollUntil(async () => {
      const first = (await run.ledger.executions()).find((e) => e.jobId === p1.stuckId);
      return first?.finishedAt != null && (await run.ledger.errors()).some((e) => e.jobId === p1.stuckId);
    }, stuckMs + 10_000);
    const afterP1 = await run.ledger.executions();
    const s1 = storyOf(p1.stuckId, afterP1, await run.ledger.errors());
    const s1End = s1.first?.finishedAt ?? Infinity;
    const ackOf = new Map<string, number>();
    for (const e of afterP1) if (e.ackedAt !== null && !ackOf.has(e.jobId)) ackOf.set(e.jobId, e.ackedAt);
    const othersLate = p1.normalIds.filter((id) => (ackOf.get(id) ?? Infinity) > s1End);
    const s1Start = s1.first?.startedAt ?? 0;
    const whileStuck = p1.normalIds.filter((id) => {
      const at = ackOf.get(id);
      return at !== undefined && at >= s1Start && at <= s1End;
    }).length;
    const s1Second = s1.later[0];
    // When the last phase-1 normal job was acked, from the stuck start: the others' pace meanwhile.
    const lastOtherAck = Math.max(s1Start, ...p1.normalIds.map((id) => ackOf.get(id) ?? 0));

    // Phase 2: crash the process running a stuck attempt once it outlived its timeout and lease.
    const p2 = await enqueuePhase(run, n, stuckMs, n + 1);
    const s2Started = await pollUntil(async () => (await run.ledger.executions()).some((e) => e.jobId === p2.stuckId), 30_000);
    if (!s2Started) throw new Error(`stuck job S2 never started\n${run.stderr()}`);
    const s2First = (await run.ledger.executions()).find((e) => e.jobId === p2.stuckId)!;
    await sleep(s2First.startedAt + ATTEMPT_TIMEOUT_MS + LEASE_TTL_MS + 500 - Date.now());
    const victim = run.workers.find((w) => w.pid === s2First.pid);
    if (!victim) throw new Error(`S2 ran in pid ${s2First.pid}, not a worker of this run`);
    const s2UnfinishedAtKill = (await run.ledger.executions()).find((e) => e.jobId === p2.stuckId)?.finishedAt === null;
    const killedAt = Date.now();
    await victim.crash();
    await run.startWorker();
    const settled2 = await run.waitSettled(60_000);

    const a = await run.account([
      { what: 'kill -9 while a stuck attempt ran', pid: victim.pid, from: killedAt },
      // A stuck execution whose lease lapsed: its job runs again, same attempt.
      ...(s1.first ? [{ what: "S1's lease lapsed", pid: s1.first.pid, from: s1Start + ATTEMPT_TIMEOUT_MS, to: s1End }] : []),
    ]);
    const executions = await run.ledger.executions();
    const errors = await run.ledger.errors();
    const s2 = storyOf(p2.stuckId, executions, errors);
    const s2Rerun = s2.later.find((e) => e.ackedAt !== null);
    const t1 = s1Start;
    const checks: Check[] = [
      ...standardChecks(a),
      { name: 'every enqueue resolved', ok: p1.tally.resolved + p2.tally.resolved === 2 * (n + 1), detail: `${p1.tally.resolved + p2.tally.resolved}/${2 * (n + 1)}` },
      { name: 'phase 1 settled', ok: settled1, detail: `settled in time: ${settled1}` },
      {
        name: 'S1 outlived its timeout and lease',
        ok: s1.first !== undefined && s1.first.finishedAt !== null && s1.first.finishedAt - s1.first.startedAt >= stuckMs - 50,
        detail: `first execution: ${fmt(s1.first, t1)}; stuck ${stuckMs} ms, timeout ${ATTEMPT_TIMEOUT_MS}, lease ${LEASE_TTL_MS}`,
      },
      {
        name: "S1 stale attempt's settle refused, not acked",
        ok: s1.first !== undefined && s1.first.ackedAt === null && s1.refusals >= 1,
        detail: `${fmt(s1.first, t1)}; ${s1.refusals} LEASE_EXPIRED`,
      },
      {
        name: 'S1 redelivered once its lease expired (while the stuck run went on), acked once',
        ok: s1Second !== undefined && s1Second.startedAt >= s1Start + ATTEMPT_TIMEOUT_MS && s1Second.startedAt < s1End && s1.acks === 1,
        detail: `second: ${fmt(s1Second, t1)}; ${s1.acks} acks; all: ${[s1.first, ...s1.later].map((e) => fmt(e, t1)).join('; ')}`,
      },
      {
        name: 'no stall: phase-1 jobs acked before S1 stuck run ended',
        ok: othersLate.length === 0,
        detail: `${othersLate.length} of ${n} acked after the stuck run ended (or never), e.g. ${othersLate.slice(0, 3).join(' ')}`,
      },
      { name: 'S2 stuck at the kill', ok: s2UnfinishedAtKill, detail: `first execution: ${fmt(s2.first, killedAt)} (times from the kill)` },
      {
        name: 'S2 ran again and was acked',
        ok: s2Rerun !== undefined && s2.acks >= 1,
        detail: `executions: ${[s2.first, ...s2.later].map((e) => fmt(e, killedAt)).join('; ')} (times from the kill)`,
      },
      { name: 'phase 2 settled', ok: settled2, detail: `settled in time: ${settled2}` },
    ];
    return {
      scenario: '6 stuck handler',
      bus: target.kind,
      account: a,
      figures: {
        stuckMs,
        attemptTimeoutMs: ATTEMPT_TIMEOUT_MS,
        leaseTtlMs: LEASE_TTL_MS,
        s1SecondStartAfterFirstMs: s1Second ? s1Second.startedAt - s1Start : -1,
        s1Overlap: s1Second !== undefined && s1Second.startedAt < s1End ? 'yes' : 'no',
        s1FirstOutcome: outcomeOf(s1),
        staleSettlesRefused: errors.filter((e) => e.code === 'LEASE_EXPIRED').length,
        othersAckedWhileStuck: whileStuck,
        phase1OthersDoneAfterMs: lastOtherAck - s1Start,
        s2AckedRerunAfterKillMs: s2Rerun ? s2Rerun.startedAt - killedAt : -1,
        killedInFlight: a.duplicateBound,
      },
      checks,
      ms: Date.now() - started,
    };
  } finally {
    await run.end();
  }
}
