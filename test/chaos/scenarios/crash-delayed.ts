/**
 * Scenario 5, delays under a crash: N jobs due spread over 10 s; the only worker (a separate
 * process) is killed with SIGKILL at 5 s and a new one started at 7 s. Nothing early, nothing
 * lost; the report gives the p99 lateness.
 *
 *   t < 0              worker A consumes; N jobs enqueued, runAt spread over [T0, T0 + 10 s)
 *   T0 + 5 s           A killed with SIGKILL (no drain, no commit, no ack)
 *   T0 + 7 s           worker B (a new process, same group) starts
 *   until every job settled (polling the ledger)
 *
 * Failure detection is shortened so the scenario is quick, and the figures say so: Kafka
 * `consumer.sessionTimeoutMs` 6 000, NATS backend `ackTimeoutMs` 3 000 and bus `relayAckWaitMs`
 * 3 000. With `defaults` (npm run chaos -- --defaults) the product defaults are used (30 s / 10 s).
 *
 * Duplicates are bounded by what A had in flight: its own unsettled executions (or settled in
 * the 0.5 s before the kill) and what its delay relays had forwarded without recording it; the
 * latter the ledger cannot see, so every execution of a job due from 2 s before the kill to 1 s
 * after it counts as exposed; on Kafka until the group settled (failure detection + 3 s), since
 * a relay revoked in a rebalance before its commit forwards its last batch again. (On NATS a
 * repeated forward is deduplicated; on Kafka it runs twice.)
 */
import { beginRun, chaosJobs, enqueueAll, sleep, standardChecks, type ScenarioResult } from '../harness/drive.js';
import type { ChaosTarget } from '../harness/target.js';
import { bySize, type Size } from './sizes.js';

/** Options of {@link crashDelayed}. */
export interface CrashDelayedOptions {
  /** Use the product's default failure detection instead of the short one. */
  readonly defaults?: boolean;
}

/** Run scenario 5 on `target`. */
export async function crashDelayed(target: ChaosTarget, size: Size, o: CrashDelayedOptions = {}): Promise<ScenarioResult> {
  const started = Date.now();
  const n = bySize(size, 1_000, 1_000);
  const detectMs = o.defaults ? 30_000 : target.kind === 'kafka' ? 6_000 : 3_000;
  const relayMs = o.defaults ? (target.kind === 'kafka' ? 30_000 : 10_000) : detectMs;
  const run = await beginRun({
    target,
    name: 'delayed',
    worker: { handlerMs: 5, concurrency: 16, ...(!o.defaults && target.kind === 'nats' && { ackTimeoutMs: detectMs }) },
    workerBus: target.kind === 'kafka' ? { sessionTimeoutMs: detectMs } : { relayAckWaitMs: relayMs },
  });
  try {
    const a = await run.startWorker(true);
    const t0 = Date.now() + 4_000;
    // Due times in 50 ms steps: jobs sharing a step go out in one batch.
    const jobs = chaosJobs(run.queue, n, (i) => ({ i }), (i) => new Date(t0 + Math.floor((i * 10_000) / n / 50) * 50));
    const tally = await enqueueAll(run.producer, run.ledger, jobs, n / 200);
    const enqueueMarginMs = t0 - Date.now();
    await sleep(t0 + 5_000 - Date.now());
    const killedAt = Date.now();
    await a.crash();
    await sleep(t0 + 7_000 - Date.now());
    const b = await run.startWorker();
    const settled = await run.waitSettled(40_000 + detectMs + relayMs);
    const acct = await run.account([
      { what: 'kill -9 of A', pid: a.pid, from: killedAt },
      // A relay forwards a job when it is due and records (commits) that right after: what A's
      // relays may have forwarded unrecorded is due shortly before the kill. On Kafka, a relay
      // that loses its delay partitions in the rebalances the crash causes (B joining, A timed
      // out) before committing its last forwards also forwards them again: jobs due until the
      // group settled.
      {
        what: 'jobs the delay relays may have forwarded unrecorded',
        due: { from: killedAt - 2_000, to: killedAt + (target.kind === 'kafka' ? detectMs + 3_000 : 1_000) },
      },
    ]);
    const firstB = (await run.ledger.executions()).find((e) => e.pid === b.pid);
    return {
      scenario: '5 delays under a crash',
      bus: target.kind,
      account: acct,
      figures: {
        failureDetectionMs: detectMs,
        latenessP50Ms: acct.lateness.p50,
        latenessMaxMs: acct.lateness.max,
        firstRunOfBAfterKillMs: firstB ? firstB.startedAt - killedAt : -1,
        enqueueMarginMs,
        settledInTime: String(settled),
      },
      checks: [...standardChecks(acct), { name: 'every enqueue resolved', ok: tally.resolved === n, detail: `${tally.resolved}/${n}` }],
      ms: Date.now() - started,
    };
  } finally {
    await run.end();
  }
}
