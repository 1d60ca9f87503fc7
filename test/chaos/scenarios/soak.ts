/**
 * Scenario 8, soak: a steady mixed load through two worker processes for a long time, no fault.
 * Every job is accounted for, and the workers' memory and event-loop lag stay flat.
 *
 *   A, B ready (sampling RSS and event-loop delay every second into the ledger)
 *   -> every 100 ms, enqueue rate/10 jobs, on a fixed clock, for `durationMs`:
 *      75 % immediate (5-50 ms), 10 % delayed 1-5 s, 10 % failing 1 or 2 times then succeeding,
 *      5 % failing for good (PermanentError: the DLQ)
 *   -> every job settled
 *
 * Checks: lost 0, early 0, duplicates 0 (no fault, so the bound is 0), every permanent job in the
 * DLQ and no other, the load was kept up with (settled within 30 s of the last enqueue), and per
 * worker:
 * - RSS flat: the median RSS of the last window <= 1.5 x the median of the first window + 50 MB,
 *   a window being the first / last minute of the load (a third of it when shorter). Medians,
 *   not single samples, so one GC cycle's timing cannot pass or fail it.
 * - lag bounded: the p99 of the per-second event-loop delay p99s over the load <= LAG_P99_BOUND_MS
 *   (no second in which 1 % of the loop's turns waited longer), and lag flat: the median
 *   per-second p99 of the last window <= 2 x that of the first window + 20 ms (the first window
 *   holds the warm-up: joining the group, JIT, the first fetches; on two shared cores a single
 *   second of it reached 200 ms, so the bound is on the run and the flatness on medians).
 * The figures give RSS and lag at start, end and max per worker.
 */
import { spread } from '../harness/account.js';
import { beginRun, chaosJobs, enqueueAll, sleep, standardChecks, type Check, type EnqueueTally, type ScenarioResult } from '../harness/drive.js';
import type { Sample } from '../harness/ledger.js';
import type { ChaosTarget } from '../harness/target.js';
import type { ChaosPayload } from '../harness/worker-config.js';
import { bySize, handlerMsOf, type Size } from './sizes.js';

/** Options of {@link soak}. */
export interface SoakOptions {
  /** How long the load runs, ms. Default: 10 minutes (full), 30 s (short). */
  readonly durationMs?: number;
  /** Jobs enqueued per second. Default 200. */
  readonly ratePerSec?: number;
}

/** Bound of the p99 (over the run) of the workers' per-second event-loop delay p99, ms. */
export const LAG_P99_BOUND_MS = 500;

const TICK_MS = 100;
const MB = 1024 * 1024;

/** What job `i` of the soak does: the mix described above. */
export function soakPayload(i: number): ChaosPayload {
  const k = i % 20;
  if (k === 0) return { i, ms: 5, permanent: true };
  if (k === 1 || k === 2) return { i, ms: handlerMsOf(i), failTimes: k };
  return { i, ms: handlerMsOf(i) };
}

/** Delay of job `i` (0 = immediate): 20 % delayed 1-5 s. */
const delayOf = (i: number): number => (i % 20 >= 3 && i % 20 <= 6 ? 1_000 + ((i * 7919) % 4_001) : 0);

const median = (xs: readonly number[]): number => spread(xs).p50;
const mb = (bytes: number): number => Math.round(bytes / MB);

/** Flatness of one worker's samples over the load [from, to]. */
interface WorkerFigures {
  readonly pid: number;
  readonly samples: number;
  readonly rssStart: number;
  readonly rssEnd: number;
  readonly rssMax: number;
  readonly rssFirstMedian: number;
  readonly rssLastMedian: number;
  readonly lagP99Start: number;
  readonly lagP99End: number;
  readonly lagP99OfP99s: number;
  readonly lagFirstMedian: number;
  readonly lagLastMedian: number;
  readonly lagMax: number;
}

function figuresOf(pid: number, all: readonly Sample[], from: number, to: number): WorkerFigures {
  const s = all.filter((x) => x.pid === pid && x.at >= from && x.at <= to);
  const win = Math.min(60_000, (to - from) / 3);
  const first = s.filter((x) => x.at <= from + win);
  const last = s.filter((x) => x.at >= to - win);
  return {
    pid,
    samples: s.length,
    rssStart: s[0]?.rssBytes ?? 0,
    rssEnd: s[s.length - 1]?.rssBytes ?? 0,
    rssMax: Math.max(0, ...s.map((x) => x.rssBytes)),
    rssFirstMedian: median(first.map((x) => x.rssBytes)),
    rssLastMedian: median(last.map((x) => x.rssBytes)),
    lagP99Start: s[0]?.lagP99Ms ?? 0,
    lagP99End: s[s.length - 1]?.lagP99Ms ?? 0,
    lagP99OfP99s: spread(s.map((x) => x.lagP99Ms)).p99,
    lagFirstMedian: median(first.map((x) => x.lagP99Ms)),
    lagLastMedian: median(last.map((x) => x.lagP99Ms)),
    lagMax: Math.max(0, ...s.map((x) => x.lagMaxMs)),
  };
}

/** Run scenario 8 on `target`. */
export async function soak(target: ChaosTarget, size: Size, o: SoakOptions = {}): Promise<ScenarioResult> {
  const started = Date.now();
  const durationMs = o.durationMs ?? bySize(size, 30_000, 600_000);
  const rate = o.ratePerSec ?? 200;
  const run = await beginRun({
    target,
    name: 'soak',
    worker: {
      handlerMs: 20,
      concurrency: 32,
      sampleIntervalMs: 1_000,
      ackTimeoutMs: 10_000,
      worker: { retry: { maxAttempts: 4, initialBackoffMs: 200, maxBackoffMs: 1_000 } },
    },
  });
  try {
    const workers = await Promise.all([run.startWorker(true), run.startWorker(true)]);
    const tally: EnqueueTally = { resolved: 0, retryableErrors: 0, otherErrors: 0 };
    const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1_000));
    const loadFrom = Date.now();
    let i = 0;
    let behindMs = 0;
    // A fixed clock: tick k is due at loadFrom + k * TICK_MS, so a slow enqueue does not lower the rate.
    for (let k = 0; k * TICK_MS < durationMs; k++) {
      const due = loadFrom + k * TICK_MS;
      if (due > Date.now()) await sleep(due - Date.now());
      else behindMs = Math.max(behindMs, Date.now() - due);
      const now = Date.now();
      const base = i;
      const jobs = chaosJobs(run.queue, perTick, (j) => soakPayload(base + j), (j) => new Date(now + delayOf(base + j)));
      i += perTick;
      const t = await enqueueAll(run.producer, run.ledger, jobs, perTick);
      tally.resolved += t.resolved;
      tally.retryableErrors += t.retryableErrors;
      tally.otherErrors += t.otherErrors;
      tally.firstOtherError ??= t.firstOtherError;
    }
    const loadTo = Date.now();
    const settled = await run.waitSettled(30_000);
    const settledAfterMs = Date.now() - loadTo;
    const a = await run.account();
    const samples = await run.ledger.samples();
    const w = workers.map((x) => figuresOf(x.pid, samples, loadFrom, loadTo));
    const enqueued = await run.ledger.enqueued();
    const permanentIds = enqueued.filter((j) => j.expect === 'dead').map((j) => j.id);
    const dlq = await target.deadLetterIds(run.queue);
    const permanentInDlq = permanentIds.filter((id) => dlq.has(id)).length;
    const checks: Check[] = [
      ...standardChecks(a),
      { name: 'every enqueue resolved', ok: tally.resolved === i, detail: `${tally.resolved}/${i}; ${tally.firstOtherError ?? ''}` },
      { name: 'every permanent job in the DLQ, no other', ok: permanentInDlq === permanentIds.length && dlq.size === permanentIds.length, detail: `${permanentInDlq}/${permanentIds.length} permanent in the DLQ, ${dlq.size} DLQ entries` },
      { name: 'kept up: settled within 30 s of the last enqueue', ok: settled, detail: `settled: ${settled} after ${settledAfterMs} ms` },
      ...w.flatMap((f, n): Check[] => [
        { name: `worker ${n + 1} sampled`, ok: f.samples >= Math.floor(durationMs / 1_000) / 2, detail: `${f.samples} samples over ${Math.round(durationMs / 1_000)} s` },
        {
          name: `worker ${n + 1} RSS flat (last median <= first median x 1.5 + 50 MB)`,
          ok: f.rssLastMedian <= f.rssFirstMedian * 1.5 + 50 * MB,
          detail: `first ${mb(f.rssFirstMedian)} MB, last ${mb(f.rssLastMedian)} MB, max ${mb(f.rssMax)} MB`,
        },
        { name: `worker ${n + 1} lag p99 <= ${LAG_P99_BOUND_MS} ms`, ok: f.lagP99OfP99s <= LAG_P99_BOUND_MS, detail: `p99 of per-second p99s ${f.lagP99OfP99s.toFixed(1)} ms, max ${f.lagMax.toFixed(1)} ms` },
        {
          name: `worker ${n + 1} lag flat (last median p99 <= first x 2 + 20 ms)`,
          ok: f.lagLastMedian <= f.lagFirstMedian * 2 + 20,
          detail: `median per-second p99: first ${f.lagFirstMedian.toFixed(1)} ms, last ${f.lagLastMedian.toFixed(1)} ms`,
        },
      ]),
    ];
    const figures: Record<string, number | string> = {
      durationS: Math.round(durationMs / 1_000),
      ratePerSec: Math.round((i * 1_000) / (loadTo - loadFrom)),
      enqueueBehindMaxMs: behindMs,
      settledAfterLoadMs: settledAfterMs,
      latenessP50Ms: a.lateness.p50,
      permanentInDlq,
    };
    w.forEach((f, n) => {
      const p = `w${n + 1}`;
      Object.assign(figures, {
        [`${p}RssStartMB`]: mb(f.rssStart),
        [`${p}RssEndMB`]: mb(f.rssEnd),
        [`${p}RssMaxMB`]: mb(f.rssMax),
        [`${p}RssFirstMedianMB`]: mb(f.rssFirstMedian),
        [`${p}RssLastMedianMB`]: mb(f.rssLastMedian),
        [`${p}LagP99StartMs`]: Number(f.lagP99Start.toFixed(1)),
        [`${p}LagP99EndMs`]: Number(f.lagP99End.toFixed(1)),
        [`${p}LagP99OfP99sMs`]: Number(f.lagP99OfP99s.toFixed(1)),
        [`${p}LagMaxMs`]: Number(f.lagMax.toFixed(1)),
        [`${p}LagFirstMedianMs`]: Number(f.lagFirstMedian.toFixed(1)),
        [`${p}LagLastMedianMs`]: Number(f.lagLastMedian.toFixed(1)),
      });
    });
    return { scenario: '8 soak', bus: target.kind, account: a, figures, checks, ms: Date.now() - started };
  } finally {
    await run.end();
  }
}
