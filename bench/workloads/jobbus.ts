/**
 * The jobbus legs, through the public face as a user writes them: `createJobbus({ bus })`,
 * `jobs.worker({ queues, concurrency: 64, handlers })`, `jobs.enqueueBulk` in batches of 500
 * (throughput) or `jobs.enqueue` one job per 10 ms (latency). One warm-up job goes through
 * first (topics or streams, consumer group), then the clock runs from the first enqueue to
 * the last job completed (the worker's `onCompleted` hook, after the ack).
 */
import pino from 'pino';
import { createJobbus, payloadOf, type EventBus, type Job, type JobInput } from '../../src/index.js';
import { until } from '../lib.js';
import { batches, CONCURRENCY, JOB_NAME, latencyProbe, PAYLOAD, ratePerSecond, type LatencyFigures } from './shared.js';

const silent = pino({ level: 'silent' });

/**
 * One jobbus instance on `bus` (closed with it) with a started worker on `queue`; `onStart` (if
 * any) runs at each handler start: the throughput legs' handler is a true no-op (the payload is
 * not even parsed).
 */
async function instance(bus: EventBus, group: string, queue: string, onStart: ((job: Job) => void) | undefined, onCompleted: () => void) {
  const prefetch = process.env.BENCH_PREFETCH ? Number(process.env.BENCH_PREFETCH) : undefined;
  const jobs = createJobbus({ bus, group, logger: silent, ...(prefetch !== undefined && { prefetch }) });
  const worker = jobs.worker(
    {
      queues: [queue],
      concurrency: CONCURRENCY,
      handlers: {
        [JOB_NAME]: onStart ? async (job) => onStart(job) : async () => undefined,
      },
    },
    { logger: silent, hooks: { onCompleted } },
  );
  await worker.start();
  return jobs;
}

/** jobbus throughput on `bus`: `n` jobs through `enqueueBulk` after one warm-up job; jobs/s. The bus is closed. */
export async function jobbusThroughput(bus: EventBus, group: string, queue: string, n: number): Promise<number> {
  let done = 0;
  let last = 0;
  const jobs = await instance(bus, group, queue, undefined, () => {
    if (++done === n + 1) last = performance.now();
  });
  try {
    await jobs.enqueue({ name: JOB_NAME, queue, payload: PAYLOAD });
    await until(() => done >= 1, 60_000, 'the jobbus warm-up job');
    const inputs: JobInput[] = Array.from({ length: n }, () => ({ name: JOB_NAME, queue, payload: PAYLOAD }));
    const t0 = performance.now();
    for (const b of batches(inputs)) await jobs.enqueueBulk(b);
    await until(() => done >= n + 1, 300_000, 'all jobbus jobs');
    return ratePerSecond(n, t0, last);
  } finally {
    await jobs.close();
  }
}

/** jobbus enqueue-to-handler-start latency at low load (one `enqueue` per 10 ms). The bus is closed. */
export async function jobbusLatency(bus: EventBus, group: string, queue: string): Promise<LatencyFigures> {
  const startedAt = new Map<number, number>();
  let warm = 0;
  const jobs = await instance(bus, group, queue, (job) => {
    const t = performance.now();
    const p = payloadOf<{ i?: number }>(job);
    if (p.i === undefined) warm++;
    else startedAt.set(p.i, t);
  }, () => undefined);
  try {
    await jobs.enqueue({ name: JOB_NAME, queue, payload: PAYLOAD });
    await until(() => warm >= 1, 60_000, 'the jobbus warm-up job');
    return await latencyProbe(async (i) => void (await jobs.enqueue({ name: JOB_NAME, queue, payload: { ...PAYLOAD, i } })), startedAt);
  } finally {
    await jobs.close();
  }
}
