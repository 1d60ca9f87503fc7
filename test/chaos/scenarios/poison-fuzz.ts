/**
 * The bus fuzz of issue 14, scenario 7: thousands of random messages (job headers mutated or
 * made up, random header names and values, raw bytes where the broker carries bytes, random
 * payloads) published raw on a bus and consumed through bridge + backend + worker. Each message
 * carries a fixed `fuzz_n` header; at the end every one must have been handled by the worker or
 * be in the DLQ, with no uncaught error and no stall.
 */
import fc from 'fast-check';
import pino from 'pino';
import { type Job } from '../../../src/index.js';
import { createBusDLQStore, createEventBusBridge, createRuntimeBackend, createWorker, HEADERS as H } from '../../../src/advanced.js';
import { GOOD_NAME } from './poison-cases.js';
import { openRig, type PoisonTarget, type RawHeader, type RawMessage } from './poison-target.js';

/** The header that numbers a fuzz message (never mutated). */
export const FUZZ_MARKER = 'fuzz_n';

/** What a fuzz run found. */
export interface FuzzReport {
  readonly target: PoisonTarget['kind'];
  readonly seed: number;
  /** Messages the broker stored. */
  readonly published: number;
  /** Messages the broker refused at publish (never stored; not expected anywhere). */
  readonly refusedAtPublish: number;
  readonly handled: number;
  readonly deadLettered: number;
  /** Stored messages neither handled nor in the DLQ when the run gave up waiting. */
  readonly lost: readonly string[];
  /** Uncaught exceptions and unhandled rejections during the run. */
  readonly uncaught: readonly string[];
  /** From the last publish until every message was handled or dead-lettered, ms. */
  readonly settleMs: number;
}

const te = new TextEncoder();
const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/** Header names any bus can carry: printable ASCII, no space or colon, not the transports' own. */
const nameArb = fc
  .oneof(fc.stringMatching(/^[!-9;-~]{1,16}$/), fc.constantFrom('__proto__', 'constructor', 'traceparent', H.failureReason, H.originalQueue))
  .filter((n) => !/^(jobbus_|nats-)/i.test(n) && n !== FUZZ_MARKER);

/** A header value: text of any code points, or raw bytes (without CR/LF, which no header line holds). */
function valueArb(bytes: boolean): fc.Arbitrary<string | Uint8Array> {
  const anyText = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }));
  if (!bytes) return anyText;
  // Beside raw bytes a NATS header line goes out as written: no CR/LF in it either.
  const text = anyText.map((t) => t.replace(/[\r\n]/g, ' '));
  const raw = fc.uint8Array({ minLength: 1, maxLength: 24 }).map((b) => b.map((x) => (x === 10 || x === 13 ? 32 : x)));
  return fc.oneof({ weight: 4, arbitrary: text }, { weight: 1, arbitrary: raw });
}

/** Due times in the past (or garbage): a job due later would not run within the run. */
const pastTime = fc.oneof(
  fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('2025-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc
    .record({ y: fc.integer({ min: 0, max: 2025 }), mo: fc.integer({ min: 0, max: 13 }), d: fc.integer({ min: 0, max: 32 }), off: fc.integer({ min: -99, max: 99 }) })
    .map((t) => `${pad(t.y, 4)}-${pad(t.mo, 2)}-${pad(t.d, 2)}T12:00:00${t.off < 0 ? '-' : '+'}${pad(Math.abs(t.off), 2)}:00`),
  fc.string({ maxLength: 30 }),
);
const countArb = fc.oneof(fc.nat({ max: 20 }).map(String), fc.constantFrom('', '-1', 'x', '99999999999999999', ' 3 '), fc.string({ maxLength: 8 }));

/** One random message, numbered `n` (the number is filled in after sampling). */
function messageArb(bytes: boolean): fc.Arbitrary<(n: number) => RawMessage> {
  const value = valueArb(bytes);
  const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined, freq: 3 });
  return fc
    .record({
      id: fc.oneof({ weight: 6, arbitrary: fc.constant('ok') }, { weight: 1, arbitrary: maybe(value) }),
      name: fc.oneof({ weight: 6, arbitrary: fc.constant(GOOD_NAME) }, { weight: 1, arbitrary: maybe(value) }),
      queue: maybe(value),
      runAt: maybe(fc.oneof(pastTime, value)),
      createdAt: maybe(pastTime),
      attempt: maybe(countArb),
      maxAttempts: maybe(countArb),
      user: fc.array(fc.tuple(nameArb, value), { maxLength: 5 }),
      key: maybe(bytes ? fc.oneof(fc.stringMatching(/^[^\r\n]{0,12}$/), fc.uint8Array({ maxLength: 8 }).map((b) => b.map((x) => (x === 10 || x === 13 ? 32 : x)))) : fc.string({ maxLength: 12 })),
      payload: fc.oneof({ weight: 8, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }) }, { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) }),
    })
    .map((r) => (n: number): RawMessage => {
      const headers: RawHeader[] = [];
      // An id of 'ok' is made unique per message: every handled message must be told apart.
      if (r.id !== undefined) headers.push([H.id, r.id === 'ok' ? `fz-${n}` : r.id]);
      if (r.name !== undefined) headers.push([H.name, r.name]);
      for (const [k, v] of [
        [H.runAt, r.runAt],
        [H.createdAt, r.createdAt],
        [H.attempt, r.attempt],
        [H.maxAttempts, r.maxAttempts],
      ] as const) {
        if (v !== undefined) headers.push([k, v]);
      }
      // job_queue may name another queue; the job is then handled here all the same (the header is informational on delivery).
      if (r.queue !== undefined) headers.push([H.queue, r.queue]);
      headers.push(...r.user, [FUZZ_MARKER, String(n)]);
      return { ...(r.key !== undefined && { key: r.key }), value: r.payload, headers };
    });
}

/** The `count` random messages of a run with `seed` (to replay a failure). */
export function fuzzMessages(bytes: boolean, count: number, seed: number): RawMessage[] {
  return fc.sample(messageArb(bytes), { numRuns: count, seed }).map((build, n) => build(n));
}

/** Publish `count` random messages on `target` and account for each. */
export async function runBusFuzz(target: PoisonTarget, count: number, seed = Date.now() % 2 ** 31, settleWithinMs = 30_000): Promise<FuzzReport> {
  const rig = await openRig(target);
  const uncaught: string[] = [];
  const onError = (err: unknown): void => void uncaught.push(String(err));
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  const logger = pino({ level: process.env.JOBBUS_LOG_LEVEL ?? 'silent' });
  const queue = rig.queueName('fuzz');
  const bridge = createEventBusBridge(rig.bus, { ownsBus: false, logger });
  const backend = createRuntimeBackend(bridge, { group: 'fuzz', maxInFlight: 64, logger });
  const worker = createWorker(backend, { queues: [queue], concurrency: 16, reserveTimeoutMs: 100, stopTimeoutMs: 2_000 }, { logger });
  const handled = new Set<string>();
  worker.register(GOOD_NAME, async (job: Job) => void handled.add(job.headers[FUZZ_MARKER] ?? `(no marker: ${job.id})`));
  try {
    const messages = fuzzMessages(rig.carriesBytes, count, seed);
    // A valid job first, through the bus: it creates the topic or stream that raw publishes need.
    await rig.bus.publish(queue, { value: te.encode('x'), headers: { [H.id]: 'fz-first', [H.name]: GOOD_NAME, [FUZZ_MARKER]: 'first' } });
    const stored = new Set<string>(['first']);
    let refusedAtPublish = 0;
    await worker.start();
    for (let i = 0; i < messages.length; i += 50) {
      await Promise.all(
        messages.slice(i, i + 50).map(async (message, j) => {
          const n = i + j;
          try {
            await rig.publishRaw(queue, message);
            stored.add(String(n));
          } catch {
            refusedAtPublish++; // e.g. a header the broker refuses: it never reached the queue
          }
        }),
      );
    }
    const published = Date.now();
    const dead = new Set<string>();
    const dlq = createBusDLQStore(rig.bus);
    const settled = (): boolean => [...stored].every((m) => handled.has(m) || dead.has(m));
    const deadline = published + settleWithinMs;
    for (;;) {
      if ([...stored].every((m) => handled.has(m) || dead.has(m))) break;
      dead.clear();
      for (const e of await dlq.listDLQ(queue, count + 10)) dead.add(e.job.headers[FUZZ_MARKER] ?? '');
      if (settled() || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const lost = [...stored].filter((m) => !handled.has(m) && !dead.has(m));
    return {
      target: rig.target,
      seed,
      published: stored.size,
      refusedAtPublish,
      handled: [...stored].filter((m) => handled.has(m)).length,
      deadLettered: [...stored].filter((m) => dead.has(m)).length,
      lost,
      uncaught,
      settleMs: Date.now() - published,
    };
  } finally {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
    await worker.stop().catch(() => undefined);
    await backend.close().catch(() => undefined);
    await rig.close();
  }
}
