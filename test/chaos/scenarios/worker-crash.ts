/**
 * Scenario 1, worker crash: three worker processes in one group; `kill -9` one of them mid-run
 * and start a replacement. Nothing is lost; duplicates stay within what the killed process had
 * in flight (its unsettled executions, or settled in the 0.5 s before the kill), read from the ledger.
 *
 *   t0: 3 workers ready -> enqueue N jobs (5-50 ms handlers) -> 40 % completed: SIGKILL worker 2
 *   -> start worker 4 -> every job settled
 */
import { beginRun, chaosJobs, enqueueAll, pollUntil, standardChecks, type ScenarioResult } from '../harness/drive.js';
import type { ChaosTarget } from '../harness/target.js';
import { bySize, handlerMsOf, type Size } from './sizes.js';

/** Run scenario 1 on `target`. */
export async function workerCrash(target: ChaosTarget, size: Size): Promise<ScenarioResult> {
  const started = Date.now();
  const n = bySize(size, 2_000, 10_000);
  const run = await beginRun({ target, name: 'crash', worker: { handlerMs: 20, concurrency: 16, ackTimeoutMs: 5_000 } });
  try {
    await Promise.all([run.startWorker(true), run.startWorker(true), run.startWorker(true)]);
    const jobs = chaosJobs(run.queue, n, (i) => ({ i, ms: handlerMsOf(i) }));
    const enqueueing = enqueueAll(run.producer, run.ledger, jobs, 500, 0, true);
    const reached = await pollUntil(async () => (await run.ledger.progress()).completed >= n * 0.4, 60_000);
    if (!reached) throw new Error(`40 % of ${n} jobs did not complete within 60 s\n${run.stderr()}`);
    const victim = run.workers[1]!;
    const killedAt = Date.now();
    await victim.crash();
    await run.startWorker();
    const tally = await enqueueing;
    const settled = await run.waitSettled(bySize(size, 60_000, 120_000));
    const a = await run.account([{ what: 'kill -9', pid: victim.pid, from: killedAt }]);
    return {
      scenario: '1 worker crash',
      bus: target.kind,
      account: a,
      figures: { killedInFlight: a.duplicateBound, completedAtKill: a.completedAtKill, settledInTime: String(settled), enqueueErrors: tally.retryableErrors + tally.otherErrors },
      checks: [...standardChecks(a), { name: 'every enqueue resolved', ok: tally.resolved === n, detail: `${tally.resolved}/${n}` }],
      ms: Date.now() - started,
    };
  } finally {
    await run.end();
  }
}
