/**
 * The BullMQ legs, on the machine's Redis (JOBBUS_REDIS_URL, default redis://127.0.0.1:6379):
 * the same 100-byte payloads added with `addBulk` in batches of 500, one Worker with
 * concurrency 64 and a no-op processor, `removeOnComplete` (a queue that keeps every finished
 * job grows without bound; production setups remove them). BullMQ talks to Redis through its
 * node-redis adapter (`createNodeRedisClient`; ioredis, its default, is not a dependency here
 * and cannot be loaded by its ESM build). Keys live under the prefix `jobbus-bench`, removed
 * by `obliterate` after each leg and by {@link cleanupBullmq} at the end.
 */
import { createNodeRedisClient, Queue, RedisConnection, Worker } from 'bullmq';
import { createClient } from 'redis';
import { until } from '../lib.js';
import { BATCH, CONCURRENCY, concurrently, JOB_NAME, latencyProbe, PAYLOAD, ratePerSecond, type LatencyFigures } from './shared.js';

/** The Redis of the BullMQ legs. */
export const REDIS_URL = process.env.JOBBUS_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The key prefix of every BullMQ queue of the benchmark. */
const PREFIX = 'jobbus-bench';

RedisConnection.clientFactory = () => createNodeRedisClient(createClient({ url: REDIS_URL }));

/** A queue of the benchmark (under its key prefix) that removes finished jobs. */
function benchQueue(name: string): Queue {
  return new Queue(name, { connection: { url: REDIS_URL }, prefix: PREFIX, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
}

/** A queue and its worker; `onStart` runs at each processor start, `onDone` after each completion. */
async function queueAndWorker(name: string, onStart: (data: { i?: number }) => void, onDone: () => void) {
  const connection = { url: REDIS_URL };
  const queue = benchQueue(name);
  const worker = new Worker(
    name,
    async (job) => {
      onStart(job.data as { i?: number });
    },
    { connection, prefix: PREFIX, concurrency: CONCURRENCY },
  );
  worker.on('completed', onDone);
  await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
  return {
    queue,
    async close() {
      await worker.close();
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
    },
  };
}

/** BullMQ throughput: `n` jobs added in bulks of 500 after one warm-up job; jobs/s. */
export async function bullmqThroughput(name: string, n: number): Promise<number> {
  let done = 0;
  let last = 0;
  const q = await queueAndWorker(name, () => undefined, () => {
    if (++done === n + 1) last = performance.now();
  });
  try {
    await q.queue.add(JOB_NAME, { warm: true });
    await until(() => done >= 1, 30_000, 'the BullMQ warm-up job');
    const t0 = performance.now();
    for (let i = 0; i < n; i += BATCH) {
      const size = Math.min(BATCH, n - i);
      await q.queue.addBulk(Array.from({ length: size }, () => ({ name: JOB_NAME, data: PAYLOAD })));
    }
    await until(() => done >= n + 1, 300_000, 'all BullMQ jobs');
    return ratePerSecond(n, t0, last);
  } finally {
    await q.close();
  }
}

/** BullMQ enqueue-to-processor-start latency at low load (one `add` per 10 ms). */
export async function bullmqLatency(name: string): Promise<LatencyFigures> {
  const startedAt = new Map<number, number>();
  const q = await queueAndWorker(name, (d) => {
    if (d.i !== undefined) startedAt.set(d.i, performance.now());
  }, () => undefined);
  try {
    return await latencyProbe(async (i) => void (await q.queue.add(JOB_NAME, { ...PAYLOAD, i })), startedAt);
  } finally {
    await q.close();
  }
}

/** Delete every key under the benchmark's prefix that a leg may have left (an interrupted run). */
export async function cleanupBullmq(): Promise<number> {
  const redis = createClient({ url: REDIS_URL });
  await redis.connect();
  let deleted = 0;
  try {
    for await (const keys of redis.scanIterator({ MATCH: `${PREFIX}:*`, COUNT: 1000 })) {
      if (keys.length) deleted += await redis.del(keys);
    }
  } finally {
    await redis.close();
  }
  return deleted;
}

/** BullMQ enqueue only: `n` jobs added one `add` per call by `callers` concurrent callers (no worker), after `warm` added so off the clock; jobs/s. */
export async function bullmqConcurrentAdd(name: string, n: number, callers: number, warm: number): Promise<number> {
  const queue = benchQueue(name);
  await queue.waitUntilReady();
  try {
    await concurrently(warm, callers, () => queue.add(JOB_NAME, PAYLOAD));
    const t0 = performance.now();
    await concurrently(n, callers, () => queue.add(JOB_NAME, PAYLOAD));
    return ratePerSecond(n, t0, performance.now());
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}
