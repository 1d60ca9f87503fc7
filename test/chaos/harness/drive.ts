/**
 * The moves every chaos scenario makes: make chaos jobs, enqueue them while recording in the
 * ledger each one whose enqueue resolved, start worker processes, wait for the ledger to show
 * every job settled, and turn it all into the scenario's result.
 */
import { createJob, type Job } from '../../../src/index.js';
import { type EventBusBridge } from '../../../src/advanced.js';
import { pgUrl } from '../../setup/env.js';
import { account, type Account, type FaultWindow } from './account.js';
import { createLedger, type Enqueued, type Ledger } from './ledger.js';
import { startWorkerProcess, type WorkerProcess } from './processes.js';
import type { ChaosTarget } from './target.js';
import { chaosPayloadOf, type ChaosPayload, type WorkerProcessConfig } from './worker-config.js';

/** Job name every chaos job carries. */
export const CHAOS_JOB = 'chaos-job';

/** One check of a scenario: a figure against its bound. */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** What one scenario on one bus reports. */
export interface ScenarioResult {
  readonly scenario: string;
  readonly bus: string;
  readonly account: Account;
  /** Scenario-specific figures (lateness, RSS, enqueue errors, ...). */
  readonly figures: Record<string, number | string>;
  readonly checks: readonly Check[];
  readonly ms: number;
}

/** The checks every scenario makes: nothing lost, nothing early, duplicates within the bound, right outcomes. */
export function standardChecks(a: Account, maxDuplicates = a.duplicateBound): Check[] {
  return [
    { name: 'lost = 0', ok: a.lost === 0, detail: `${a.lost} lost ${a.samples.lost.join(' ')}` },
    { name: 'early = 0', ok: a.early === 0, detail: `${a.early} early ${a.samples.early.join('; ')}` },
    {
      name: `duplicates <= ${maxDuplicates}`,
      ok: a.duplicates <= maxDuplicates && a.samples.unexplainedDuplicates.length === 0,
      detail: `${a.duplicates} duplicates; unexplained: ${a.samples.unexplainedDuplicates.join('; ') || 'none'}`,
    },
    { name: 'outcomes as expected', ok: a.wrongOutcome === 0, detail: `${a.wrongOutcome} wrong ${a.samples.wrongOutcome.join('; ')}` },
  ];
}

/** `n` chaos jobs on `queue`, due at `runAt(i)` (default now), with payload `payload(i)`. */
export function chaosJobs(
  queue: string,
  n: number,
  payload: (i: number) => ChaosPayload = (i) => ({ i }),
  runAt?: (i: number) => Date,
): Job[] {
  return Array.from({ length: n }, (_, i) => createJob({ name: CHAOS_JOB, queue, payload: { ...payload(i) }, ...(runAt && { runAt: runAt(i) }) }));
}

/** Expected end of a chaos job from its payload. */
export function expectationOf(job: Job): Enqueued['expect'] {
  return chaosPayloadOf(job).permanent ? 'dead' : 'complete';
}

/** Tally of an enqueue loop. */
export interface EnqueueTally {
  resolved: number;
  /** Rejected with `retryable: true` (the producer may try again). */
  retryableErrors: number;
  /** Rejected with anything else: each one is a check failure under a broker fault. */
  otherErrors: number;
  firstOtherError?: string;
}

/**
 * Enqueue `jobs` in batches of `batch`, `gapMs` apart, recording every resolved one in the ledger;
 * with `dueNow` each batch is due when it is sent.
 * A rejected batch is tallied, not retried: the scenario checks that rejections are retryable and
 * that everything resolved completes.
 */
export async function enqueueAll(producer: EventBusBridge, ledger: Ledger, jobs: readonly Job[], batch = 100, gapMs = 0, dueNow = false): Promise<EnqueueTally> {
  const tally: EnqueueTally = { resolved: 0, retryableErrors: 0, otherErrors: 0 };
  for (let i = 0; i < jobs.length; i += batch) {
    // Immediate jobs are due when they are enqueued, not when the scenario made them, so that
    // lateness measures the system, not the producer's queue.
    const now = new Date();
    const slice = jobs.slice(i, i + batch).map((j) => (dueNow ? { ...j, runAt: now } : j));
    try {
      await producer.enqueueBatch(slice);
      tally.resolved += slice.length;
      await ledger.recordEnqueued(slice.map((j) => ({ id: j.id, runAt: j.runAt.getTime(), expect: expectationOf(j) })));
    } catch (err) {
      if ((err as { retryable?: unknown }).retryable === true) tally.retryableErrors += slice.length;
      else {
        tally.otherErrors += slice.length;
        tally.firstOtherError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      }
    }
    if (gapMs > 0) await sleep(gapMs);
  }
  return tally;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Poll until `check` holds or `timeoutMs` passes; returns whether it held. */
export async function pollUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** A scenario run in progress: its ledger, workers and producer, cleaned up by {@link Run.end}. */
export interface Run {
  readonly queue: string;
  readonly ledger: Ledger;
  readonly producer: EventBusBridge;
  readonly workers: WorkerProcess[];
  /** Start a worker process (configured by the run) and wait until it is ready. */
  startWorker(prime?: boolean): Promise<WorkerProcess>;
  /** Wait until every job recorded as enqueued completed or (as expected) was dead-lettered. */
  waitSettled(timeoutMs: number): Promise<boolean>;
  /** Read the ledger and the DLQ into the account. */
  account(faults?: readonly FaultWindow[], windowMs?: number): Promise<Account>;
  /** stderr tails of every worker (for failure messages). */
  stderr(): string;
  end(): Promise<void>;
}

/** Options of {@link beginRun}. */
export interface RunOptions {
  readonly target: ChaosTarget;
  readonly name: string;
  readonly worker: Omit<WorkerProcessConfig, 'bus' | 'queue' | 'jobName' | 'pgUrl' | 'ledgerTable' | 'primeSubscription'>;
  /** Overrides of the workers' bus config (e.g. a proxy address). */
  readonly workerBus?: Parameters<ChaosTarget['workerBus']>[0];
  /** The producer bypasses a proxy. */
  readonly directProducer?: boolean;
}

/** Set up a scenario run: a fresh queue, ledger and producer. */
export async function beginRun(o: RunOptions): Promise<Run> {
  const queue = o.target.newQueue(o.name);
  const ledger = await createLedger(pgUrl(), `chaos_${o.name}_${o.target.kind}_${Date.now().toString(36)}`.replace(/[^a-z0-9_]/g, '_'));
  const producer = await o.target.producer(o.directProducer);
  const workers: WorkerProcess[] = [];
  const config = (prime: boolean): WorkerProcessConfig => ({
    ...o.worker,
    bus: o.target.workerBus(o.workerBus),
    queue,
    jobName: CHAOS_JOB,
    pgUrl: pgUrl(),
    ledgerTable: ledger.table,
    primeSubscription: prime,
  });
  return {
    queue,
    ledger,
    producer,
    workers,
    async startWorker(prime = false) {
      const w = startWorkerProcess(config(prime));
      workers.push(w);
      await w.ready;
      return w;
    },
    async waitSettled(timeoutMs) {
      return pollUntil(async () => {
        const jobs = await ledger.enqueued();
        const p = await ledger.progress(workers.filter((w) => w.killed()).map((w) => w.pid));
        const dead = jobs.filter((j) => j.expect === 'dead').length;
        return p.completed >= jobs.length - dead && p.dead >= dead;
      }, timeoutMs, 250);
    },
    async account(faults, windowMs) {
      const [enqueued, executions, deadLetterIds] = await Promise.all([ledger.enqueued(), ledger.executions(), o.target.deadLetterIds(queue)]);
      const killedPids = new Set(workers.filter((w) => w.killed()).map((w) => w.pid));
      const a = account({ enqueued, executions, deadLetterIds, killedPids, ...(faults && { faults }), ...(windowMs !== undefined && { windowMs }) });
      if (a.samples.lost.length === 0) return a;
      // Say where the broker has each lost job: never stored, consumed past, or still waiting.
      const idOf = (sample: string): string => sample.split(' ', 1)[0]!;
      const where = await o.target.whereabouts(queue, a.samples.lost.map(idOf)).catch((err: unknown) => new Map<string, string>([['?', String(err)]]));
      const at = (id: string): string => where.get(id) ?? where.get('?') ?? '?';
      return { ...a, samples: { ...a.samples, lost: a.samples.lost.map((s) => `${s} (broker: ${at(idOf(s))})`) } };
    },
    stderr: () => workers.map((w) => `--- worker ${w.pid} ---\n${w.stderr()}`).join('\n'),
    async end() {
      await Promise.allSettled(workers.map((w) => w.stop(10_000)));
      await Promise.allSettled([producer.close(), ledger.drop()]);
    },
  };
}
