/**
 * Scenario 7 of issue 14, "poison and bad input": bad messages (missing and invalid `job_*`
 * headers, header bytes that are not UTF-8, huge headers, payloads near and over the broker's
 * size limit) published under the jobs bridge, mixed into a stream of good jobs, consumed by a
 * worker on the real bus. Accounted exactly:
 *
 * - every good job (known id) must run; `lost` counts those that never did;
 * - every bad message the broker stored (known `chaos_case` marker) must be in the DLQ
 *   (`listDLQ` of `createBusDLQStore`) with a `decode: …` reason; `lost` counts those missing;
 * - a job over the limit at enqueue must be refused with a `PublishRejectedError` and never
 *   stored; a raw message over the broker's limit must be refused by the broker;
 * - `stallMs`, the longest enqueue-to-start of a good job, shows whether poison held anything up.
 */
import { PublishRejectedError, type Job } from '../../../src/index.js';
import { createBusDLQStore, createEventBusBridge, createRuntimeBackend, createWorker, HEADERS as H } from '../../../src/advanced.js';
import pino from 'pino';
import { BAD_CASES, FAIL_ONCE, foreignGood, GOOD_NAME, goodJob, largestPayload, MARKER, sizedJob } from './poison-cases.js';
import { pollUntil } from '../harness/drive.js';
import { openRig, type PoisonRig, type PoisonTarget, type RawMessage } from './poison-target.js';

export type { PoisonTarget };

/** What a poison run found. `lost` = good jobs that never ran + stored bad messages not in the DLQ. */
export interface PoisonReport {
  readonly target: PoisonTarget['kind'];
  readonly size: 'short' | 'full';
  /** Good jobs enqueued (the bridge accepted them). */
  readonly good: number;
  /** Bad messages the broker stored. */
  readonly bad: number;
  /** Good jobs that ran (at least once). */
  readonly completed: number;
  /** Bad messages found in the DLQ. */
  readonly deadLettered: number;
  readonly lost: number;
  /** Jobs the bridge refused at enqueue as too large (each with a PublishRejectedError). */
  readonly refusedAtEnqueue: number;
  /** Raw messages over the limit that the broker refused (nothing stored). */
  readonly refusedByBroker: number;
  /** Longest time from a good job's enqueue to its first start, ms. */
  readonly stallMs: number;
  /** Good jobs started before their runAt. */
  readonly early: number;
  /** Executions beyond the first of one (job, attempt): no fault here, so the bound is 0. */
  readonly duplicates: number;
  /** Details behind the figures above; every list should be empty. */
  readonly lostGood: readonly string[];
  readonly lostBad: readonly string[];
  /** DLQ entries of this run whose reason is not a `decode: …` reason. */
  readonly badReasons: readonly string[];
  /** Executions of jobs that are not good jobs of this run (a bad message that ran). */
  readonly unexpectedRuns: readonly string[];
  /** Refusals that were not a PublishRejectedError, or refused jobs found stored after all. */
  readonly refusalProblems: readonly string[];
  /** Dead-letter copies the broker refused even with a minimal reason (the bridge's counter). */
  readonly deadLetterRefused: number;
  /** Bad cases not run on this bus (raw bytes on the memory bus, NATS-only cases elsewhere). */
  readonly skippedCases: readonly string[];
  readonly durationMs: number;
}

/** Knobs of {@link runPoisonScenario}. */
export interface PoisonOptions {
  /** Give up waiting for the good jobs and the DLQ this long after the last publish, ms. */
  readonly settleWithinMs?: number;
  readonly log?: (line: string) => void;
}

const SIZES = { short: { rounds: 1, goodPerCase: 2 }, full: { rounds: 10, goodPerCase: 10 } } as const;

/** Run the poison scenario on `target`. */
export async function runPoisonScenario(target: PoisonTarget, size: 'short' | 'full', options: PoisonOptions = {}): Promise<PoisonReport> {
  const log = options.log ?? (() => undefined);
  const t0 = Date.now();
  const rig: PoisonRig = await openRig(target);
  const logger = pino({ level: process.env.JOBBUS_LOG_LEVEL ?? 'silent' });
  const queue = rig.queueName('q');
  const bridge = createEventBusBridge(rig.bus, { ownsBus: false, logger });
  const backend = createRuntimeBackend(bridge, { group: 'poison', maxInFlight: 32, logger });
  const dlq = createBusDLQStore(rig.bus);
  const worker = createWorker(
    backend,
    { queues: [queue], concurrency: 8, reserveTimeoutMs: 100, stopTimeoutMs: 2_000, retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1_000 } },
    { logger },
  );
  const enqueuedAt = new Map<string, number>();
  const firstStart = new Map<string, number>();
  const unexpectedRuns: string[] = [];
  const failedOnce = new Set<string>();
  const runsOf = new Map<string, number>();
  let early = 0;
  worker.register(GOOD_NAME, async (job: Job) => {
    if (!enqueuedAt.has(job.id)) unexpectedRuns.push(`${job.id} (${job.headers[MARKER] ?? 'no marker'})`);
    const k = `${job.id}\u0000${job.attempt}`;
    runsOf.set(k, (runsOf.get(k) ?? 0) + 1);
    if (Date.now() < job.runAt.getTime()) early++;
    if (job.headers[FAIL_ONCE] && !failedOnce.has(job.id)) {
      failedOnce.add(job.id);
      throw new Error('the first attempt of this job fails');
    }
    if (!firstStart.has(job.id)) firstStart.set(job.id, Date.now());
  });
  const badMarkers = new Set<string>();
  const refusalProblems: string[] = [];
  const refusedIds: string[] = [];
  let refusedByBroker = 0;
  const runsHere = (c: (typeof BAD_CASES)[number]): boolean => (!c.bytes || rig.carriesBytes) && (!c.only || c.only === rig.target);
  const skippedCases = BAD_CASES.filter((c) => !runsHere(c)).map((c) => c.name);

  async function enqueueGood(job: Job): Promise<void> {
    enqueuedAt.set(job.id, Date.now());
    await backend.enqueue(job);
  }
  const elsewhere = rig.queueName('elsewhere');
  async function publishGoodRaw(id: string): Promise<void> {
    enqueuedAt.set(id, Date.now());
    await rig.publishRaw(queue, foreignGood(id, elsewhere, rig.carriesBytes));
  }
  /** A raw message that may be over the broker's limit: stored = bad to find in the DLQ, refused = counted. */
  async function publishBad(marker: string, message: RawMessage, mayBeRefused = false): Promise<void> {
    try {
      await rig.publishRaw(queue, message);
      badMarkers.add(marker);
    } catch (err) {
      if (!mayBeRefused) throw err;
      refusedByBroker++;
      if (rig.target !== 'kafka' && !(err instanceof PublishRejectedError)) refusalProblems.push(`${marker}: refused with ${String(err)}`);
    }
  }
  async function expectRefused(job: Job, what: string): Promise<void> {
    try {
      await backend.enqueue(job);
      refusalProblems.push(`${what}: enqueue of ${job.payload.byteLength} bytes was accepted`);
      enqueuedAt.set(job.id, Date.now()); // accepted after all: then it must run like any good job
    } catch (err) {
      refusedIds.push(job.id);
      if (!(err instanceof PublishRejectedError)) refusalProblems.push(`${what}: refused with ${String(err)}, not a PublishRejectedError`);
    }
  }

  try {
    await enqueueGood(goodJob(queue, 0)); // creates the queue's topic or stream before any raw publish
    await worker.start();
    const { rounds, goodPerCase } = SIZES[size];
    let i = 1;
    for (let r = 0; r < rounds; r++) {
      for (const c of BAD_CASES) {
        if (!runsHere(c)) continue;
        const marker = `${c.name}/${r}`;
        await publishBad(marker, c.build(queue, marker, rig.maxBytes), c.mayBeRefused);
        for (let g = 0; g < goodPerCase; g++) await enqueueGood(goodJob(queue, i++));
      }
      // The edges, once per round: good jobs that must run, jobs and messages that must be refused.
      const largest = largestPayload(queue, rig.maxBytes);
      await enqueueGood(sizedJob(queue, largest));
      await enqueueGood(goodJob(queue, i++, { headers: { blob: 'h'.repeat(48 * 1024) } }));
      await publishGoodRaw(`foreign-${r}-${i++}`);
      await expectRefused(sizedJob(queue, largest + 1), `round ${r}: payload 1 byte over the largest`);
      await expectRefused(sizedJob(queue, 2 * rig.maxBytes), `round ${r}: payload twice the limit`);
      const over = `over-broker-limit/${r}`;
      const tooBig = new Uint8Array(Math.ceil(rig.maxBytes * 1.1)).fill(111);
      await publishBad(over, { key: 'big', value: tooBig, headers: [[H.id, over], [MARKER, over]] }, true);
      for (let g = 0; g < goodPerCase; g++) await enqueueGood(goodJob(queue, i++));
    }
    log(`${rig.target}: published ${enqueuedAt.size} good, ${badMarkers.size} bad, ${refusedIds.length} refused at enqueue, ${refusedByBroker} refused by the broker`);

    const settleWithinMs = options.settleWithinMs ?? (size === 'short' ? 20_000 : 120_000);
    const waitStart = Date.now();
    await pollUntil(() => [...enqueuedAt.keys()].every((id) => firstStart.has(id)), settleWithinMs);
    const inDlq = new Map<string, string>();
    const otherReasons: string[] = [];
    const readDlq = async (): Promise<boolean> => {
      inDlq.clear();
      otherReasons.length = 0;
      for (const e of await dlq.listDLQ(queue, 10_000)) {
        const marker = e.job.headers[MARKER] ?? `(no marker: ${e.job.id})`;
        inDlq.set(marker, e.reason);
        if (!e.reason.startsWith('decode: ')) otherReasons.push(`${marker}: ${JSON.stringify(e.reason.slice(0, 200))}`);
      }
      return [...badMarkers].every((m) => inDlq.has(m));
    };
    await pollUntil(readDlq, Math.max(2_000, settleWithinMs - (Date.now() - waitStart)), 500);
    const waitedMs = Date.now() - waitStart;

    // Refused jobs must not be stored anywhere: not run, not dead-lettered, not in the queue.
    const stored = new Set((await rig.bus.browse(queue, 100_000)).map((m) => m.headers[H.id]));
    for (const id of refusedIds) {
      if (stored.has(id) || firstStart.has(id)) refusalProblems.push(`job ${id} was refused at enqueue but stored or run`);
    }
    const lostGood = [...enqueuedAt.keys()].filter((id) => !firstStart.has(id));
    const lostBad = [...badMarkers].filter((m) => !inDlq.has(m));
    const stallMs = Math.max(0, ...[...firstStart].filter(([id]) => enqueuedAt.has(id)).map(([id, at]) => at - enqueuedAt.get(id)!));
    const report: PoisonReport = {
      target: rig.target,
      size,
      good: enqueuedAt.size,
      bad: badMarkers.size,
      completed: enqueuedAt.size - lostGood.length,
      deadLettered: badMarkers.size - lostBad.length,
      lost: lostGood.length + lostBad.length,
      refusedAtEnqueue: refusedIds.length,
      refusedByBroker,
      stallMs,
      early,
      duplicates: [...runsOf.values()].reduce((n, r) => n + r - 1, 0),
      lostGood,
      lostBad,
      badReasons: otherReasons,
      unexpectedRuns,
      refusalProblems,
      deadLetterRefused: bridge.counters().deadLetterRefused,
      skippedCases,
      durationMs: Date.now() - t0,
    };
    log(`${rig.target}: ${JSON.stringify({ ...report, lostGood: lostGood.slice(0, 10) })} (waited ${waitedMs} ms for the last job and DLQ entry)`);
    return report;
  } finally {
    await worker.stop().catch(() => undefined);
    await backend.close().catch(() => undefined);
    await rig.close();
  }
}
