/**
 * Scenario 2, rolling restart: three worker processes under a steady load; each is stopped in
 * turn with SIGTERM (graceful: it finishes or hands back what it holds) and replaced. Nothing is
 * lost and nothing runs twice.
 *
 *   3 workers ready -> enqueue N jobs at a steady rate -> for each worker: SIGTERM, wait for its
 *   exit, start its replacement, wait ready, pause 1 s -> every job settled
 */
import { beginRun, chaosJobs, enqueueAll, sleep, standardChecks, type ScenarioResult } from '../harness/drive.js';
import type { ChaosTarget } from '../harness/target.js';
import { bySize, handlerMsOf, type Size } from './sizes.js';

/** Run scenario 2 on `target`. */
export async function rollingRestart(target: ChaosTarget, size: Size): Promise<ScenarioResult> {
  const started = Date.now();
  const n = bySize(size, 3_000, 10_000);
  const run = await beginRun({ target, name: 'rolling', worker: { handlerMs: 20, concurrency: 16, ackTimeoutMs: 5_000 } });
  try {
    const first = await Promise.all([run.startWorker(true), run.startWorker(true), run.startWorker(true)]);
    const jobs = chaosJobs(run.queue, n, (i) => ({ i, ms: handlerMsOf(i) }));
    // About 20 s of load (full), 6 s (short): batches of 50 every 100 ms.
    const enqueueing = enqueueAll(run.producer, run.ledger, jobs, 50, 100, true);
    await sleep(1_000);
    let stopMs = 0;
    for (const w of first) {
      const t = Date.now();
      await w.stop(30_000);
      stopMs = Math.max(stopMs, Date.now() - t);
      await run.startWorker();
      await sleep(1_000);
    }
    const tally = await enqueueing;
    const settled = await run.waitSettled(bySize(size, 60_000, 120_000));
    const a = await run.account();
    return {
      scenario: '2 rolling restart',
      bus: target.kind,
      account: a,
      figures: { slowestStopMs: stopMs, settledInTime: String(settled) },
      checks: [...standardChecks(a, 0), { name: 'every enqueue resolved', ok: tally.resolved === n, detail: `${tally.resolved}/${n}` }],
      ms: Date.now() - started,
    };
  } finally {
    await run.end();
  }
}
