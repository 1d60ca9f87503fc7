/**
 * The checks both security test files run against an authenticated, TLS-protected broker:
 * a job end to end through bridge, backend and worker; the S1 behaviour when the DLQ may not
 * be written; and that no secret shows up in a log line, an error or a dead-letter message.
 */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { expect } from 'vitest';
import { createJob, PermanentError, type EventBus, type Worker } from '../../src/index.js';
import { createEventBusBridge, createRuntimeBackend, createWorker, type BrowsableBus, type RuntimeBackend } from '../../src/advanced.js';
import { waitFor } from '../support/wait.js';

/** Every line a pino logger wrote, as raw JSON text. */
export interface LogCapture {
  readonly logger: Logger;
  readonly lines: string[];
}

/** A pino logger at `debug` whose destination is an in-memory array (what an operator would ship). */
export function captureLogs(name: string): LogCapture {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      done();
    },
  });
  return { logger: pino({ name, level: 'debug' }, stream), lines };
}

/** Everything an error says about itself: name, message, stack, own properties, through its causes. */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let e: unknown = err; e !== undefined && e !== null && !seen.has(e) && parts.length < 40; ) {
    seen.add(e);
    if (e instanceof Error) parts.push(`${e.name}: ${e.message}\n${e.stack ?? ''}`);
    try {
      parts.push(JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    } catch {
      parts.push(String(e));
    }
    const next = e as { cause?: unknown; originalError?: unknown };
    e = next.cause ?? next.originalError;
  }
  return parts.join('\n');
}

/** Fail naming the secret and where it appeared, without printing the secret itself. */
export function expectNoSecret(where: string, texts: readonly string[], secrets: readonly string[]): void {
  for (const [i, secret] of secrets.entries()) {
    const hits = texts.filter((t) => t.includes(secret)).length;
    expect(hits, `secret #${i} appears in ${hits} ${where}`).toBe(0);
  }
}

/** A worker over `bus` with a handler per job name; `runs` counts executions per job id. */
export interface Rig {
  readonly backend: RuntimeBackend;
  readonly worker: Worker;
  readonly runs: Map<string, number>;
  stop(): Promise<void>;
}

/** Bridge, backend (group `group`) and a worker on `queue`: `ok` jobs succeed, `doomed` jobs throw PermanentError. */
export async function startRig(bus: EventBus, queue: string, group: string, logger: Logger): Promise<Rig> {
  const backend = createRuntimeBackend(createEventBusBridge(bus, { logger, ownsBus: false }), { group, logger, ackTimeoutMs: 10_000 });
  const worker = createWorker(backend, { queues: [queue], concurrency: 2, reserveTimeoutMs: 200, stopTimeoutMs: 2_000 }, { logger });
  const runs = new Map<string, number>();
  const count = (id: string): void => void runs.set(id, (runs.get(id) ?? 0) + 1);
  worker.register('ok', (job) => count(job.id));
  worker.register('doomed', (job) => {
    count(job.id);
    throw new PermanentError('the recipient does not exist');
  });
  await worker.start();
  return {
    backend,
    worker,
    runs,
    async stop() {
      await worker.stop();
      await backend.close();
    },
  };
}

/** The dead-letter messages of `jobId` in the DLQ topic. */
export async function deadLettersOf(bus: BrowsableBus, dlq: string, jobId: string): Promise<{ headers: Readonly<Record<string, string>>; value: Uint8Array }[]> {
  const all = await bus.browse(dlq, 100).catch(() => []);
  return all.filter((m) => m.headers.job_id === jobId);
}

/**
 * A job runs end to end and a PermanentError job reaches the DLQ with its reason. Returns
 * the texts of the dead-letter message (headers and value) for the secret check.
 */
export async function jobEndToEnd(bus: EventBus & BrowsableBus, queue: string, logger: Logger): Promise<string[]> {
  const rig = await startRig(bus, queue, 'sec', logger);
  try {
    const ok = createJob({ name: 'ok', queue, payload: { hello: 'world' } });
    const doomed = createJob({ name: 'doomed', queue, payload: { to: 'nobody' } });
    await rig.backend.enqueue(ok);
    await rig.backend.enqueue(doomed);
    const [dead] = await waitFor(async () => {
      const found = await deadLettersOf(bus, `${queue}.dlq`, doomed.id);
      return found.length > 0 && rig.runs.get(ok.id) === 1 ? found : undefined;
    }, 'the ok job to run and the doomed one to reach the DLQ', 20_000, 100);
    expect(rig.runs.get(ok.id)).toBe(1);
    expect(rig.runs.get(doomed.id)).toBe(1);
    expect(dead!.headers.job_failure_reason).toContain('the recipient does not exist');
    return [...Object.entries(dead!.headers).map(([k, v]) => `${k}=${v}`), new TextDecoder().decode(dead!.value)];
  } finally {
    await rig.stop();
  }
}

/**
 * S1 with a principal that may not write the DLQ: a PermanentError job's dead-letter publish is
 * refused; the job stays in its queue, the handler does not run again, the backend logs at
 * error and counts the refusals with back-off (no loop). Then `grant()` lets the principal write
 * the DLQ and the pending dead-letter publish goes through: the job was never lost.
 */
export async function deniedDeadLetter(
  bus: EventBus & BrowsableBus,
  queue: string,
  logs: LogCapture,
  grant: () => Promise<void>,
): Promise<void> {
  const rig = await startRig(bus, queue, 'sec-denied', logs.logger);
  try {
    const doomed = createJob({ name: 'doomed', queue, payload: { to: 'nobody' } });
    await rig.backend.enqueue(doomed);
    await waitFor(() => rig.backend.counters().settleFailures >= 2, 'two refused dead-letter publishes', 20_000, 50);
    const refusedLine = logs.lines.find((l) => l.includes('"level":50') && l.includes('the DLQ refused the job even with a minimal reason'));
    expect(refusedLine, 'a loud (error level) log line says the DLQ refused the job').toBeDefined();
    expect(refusedLine).toContain(doomed.id);
    expect(rig.backend.counters().deadLetterRefused).toBeGreaterThanOrEqual(2);
    // Back-off, not a loop: the second try waits ~1 s after the first, the third ~2 s more.
    const failuresSoon = rig.backend.counters().settleFailures;
    expect(failuresSoon).toBeLessThanOrEqual(3);
    expect(rig.runs.get(doomed.id), 'the handler ran once; the refused dead letter does not run it again').toBe(1);
    expect(await deadLettersOf(bus, `${queue}.dlq`, doomed.id)).toHaveLength(0);

    await grant();
    const dead = await waitFor(async () => {
      const found = await deadLettersOf(bus, `${queue}.dlq`, doomed.id);
      return found.length > 0 ? found : undefined;
    }, 'the job to reach the DLQ once the principal may write it', 25_000, 200);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.headers.job_failure_reason).toContain('the recipient does not exist');
    expect(rig.runs.get(doomed.id), 'still one run: the retried publish did not run the handler').toBe(1);
  } finally {
    await rig.stop();
  }
}
