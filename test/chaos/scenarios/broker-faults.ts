/**
 * Scenarios 3 (broker outage) and 4 (network faults): two worker processes consume while a
 * producer enqueues at a steady rate; a fault hits the broker or the workers' connections,
 * holds, and heals. Producers get retryable errors or succeed, never a silent loss; the same
 * worker processes resume without a restart; every enqueue that resolved completes; duplicates
 * stay within what was unsettled or settled during the fault (until 10 s after it healed: the
 * time a Kafka group takes to rejoin and commit again).
 *
 *   2 workers ready -> steady enqueue (batches of 10 every 100 ms) -> at 3 s: fault -> hold
 *   -> heal -> enqueue the rest -> every job settled -> account
 *
 * Faults: `kill` = SIGKILL the broker, restart it on the same data (3); `stop` = graceful broker
 * stop and restart (3); `cut` = the proxy closes every worker connection and refuses new ones,
 * then `stall` = the proxy accepts and holds connections but forwards nothing (4).
 */
import type { TimeFault } from '../harness/account.js';
import { beginRun, chaosJobs, enqueueAll, sleep, standardChecks, type Check, type ScenarioResult } from '../harness/drive.js';
import type { OwnTarget } from '../harness/own-target.js';
import { bySize, handlerMsOf, type Size } from './sizes.js';

/** Settlements this long after a fault healed may still be forgotten (a Kafka group rejoining). */
const REJOIN_SLACK_MS = 10_000;

/** One fault: do it, hold it `holdMs`, heal it; returns its window. */
type Fault = (own: OwnTarget, holdMs: number) => Promise<TimeFault>;

/** A fault of the proxy in front of the broker: `cut()` or `stall()`, held, then `heal()`. */
function proxyFault(op: 'cut' | 'stall', what: string): Fault {
  return async (own, holdMs) => {
    const proxy = own.proxy!;
    const from = Date.now();
    proxy[op]();
    await sleep(holdMs);
    proxy.heal();
    return { what, from, to: Date.now() + REJOIN_SLACK_MS };
  };
}

const faults: Record<'kill' | 'stop' | 'cut' | 'stall', Fault> = {
  async kill(own, holdMs) {
    const from = Date.now();
    await own.broker.kill();
    await sleep(holdMs);
    await own.broker.start();
    return { what: 'broker killed', from, to: Date.now() + REJOIN_SLACK_MS };
  },
  async stop(own, holdMs) {
    const from = Date.now();
    await own.broker.stop();
    await sleep(holdMs - (Date.now() - from));
    await own.broker.start();
    return { what: 'broker stopped', from, to: Date.now() + REJOIN_SLACK_MS };
  },
  cut: proxyFault('cut', 'connections cut'),
  stall: proxyFault('stall', 'connections stalled'),
};

/** Run one fault (or several in turn) under load on an own broker. */
async function underLoad(own: OwnTarget, size: Size, scenario: string, kinds: readonly (keyof typeof faults)[]): Promise<ScenarioResult> {
  const started = Date.now();
  const holdMs = bySize(size, 5_000, 10_000);
  const n = bySize(size, 1_500, 4_000) * kinds.length;
  const run = await beginRun({
    target: own.target,
    name: kinds.join('_'),
    worker: { handlerMs: 20, concurrency: 16, ackTimeoutMs: 5_000 },
    directProducer: true,
  });
  try {
    await Promise.all([run.startWorker(true), run.startWorker(true)]);
    const jobs = chaosJobs(run.queue, n, (i) => ({ i, ms: handlerMsOf(i) }));
    const enqueueing = enqueueAll(run.producer, run.ledger, jobs, 10, 100, true);
    const windows: TimeFault[] = [];
    for (const kind of kinds) {
      await sleep(3_000);
      windows.push(await faults[kind](own, holdMs));
    }
    const tally = await enqueueing;
    const settled = await run.waitSettled(bySize(size, 90_000, 180_000));
    const a = await run.account(windows);
    // Resumed: the first execution that started after each fault healed, ms after the heal.
    const starts = (await run.ledger.executions()).map((e) => e.startedAt);
    const resumedMs = windows.map((w) => Math.min(...starts.filter((t) => t >= w.to! - REJOIN_SLACK_MS)) - (w.to! - REJOIN_SLACK_MS));
    const alive = run.workers.filter((w) => w.alive()).length;
    const checks: Check[] = [
      ...standardChecks(a),
      { name: 'producer errors are retryable', ok: tally.otherErrors === 0, detail: `${tally.otherErrors} not retryable: ${tally.firstOtherError ?? ''}` },
      { name: 'workers resume without a restart', ok: alive === run.workers.length, detail: `${alive}/${run.workers.length} worker processes alive\n${run.stderr()}` },
    ];
    return {
      scenario,
      bus: own.target.kind,
      account: a,
      figures: {
        faults: kinds.join('+'),
        holdMs,
        resumedAfterHealMs: resumedMs.join('+'),
        enqueueResolved: tally.resolved,
        enqueueRetryableErrors: tally.retryableErrors,
        enqueueOtherErrors: tally.otherErrors,
        settledInTime: String(settled),
      },
      checks,
      ms: Date.now() - started,
    };
  } finally {
    await run.end();
  }
}

/** Scenario 3: the broker killed with SIGKILL (`kill`) or stopped gracefully (`stop`) under load, restarted after 10 s (short: 5 s). */
export function brokerOutage(own: OwnTarget, size: Size, mode: 'kill' | 'stop'): Promise<ScenarioResult> {
  return underLoad(own, size, mode === 'kill' ? '3 broker killed' : '3 broker stopped', [mode]);
}

/** Scenario 4: the workers' connections cut, then stalled, for 10 s each (short: 5 s). Needs a proxied target. */
export function networkFaults(own: OwnTarget, size: Size): Promise<ScenarioResult> {
  if (!own.proxy) throw new Error('networkFaults needs an own target with a proxy (ownTarget(kind, { proxied: true }))');
  return underLoad(own, size, '4 network cut and stall', ['cut', 'stall']);
}
