/**
 * Several scheduler instances on one task: exactly one job per tick, per lock provider, with
 * jobs enqueued through createJobbus on the machine's NATS and counted by a consumer. Then a
 * real child process killed (`kill -9`) mid-dispatch, and `fire_once` after every instance
 * was down. The job id carries the tick (`sched-<task>-<tick ms>`); the schedulers' own
 * `fired` counters are checked too, because NATS's dedup would hide a double fire.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import pino from 'pino';
import { createClient } from 'redis';
import { createJobbus, type Jobbus } from '../../src/jobbus.js';
import { createScheduler } from '../../src/scheduler/index.js';
import { createMemoryLockProvider } from '../../src/scheduler/locks/memory.js';
import { createRedisLockProvider } from '../../src/scheduler/locks/redis.js';
import { createPostgresLockProvider } from '../../src/scheduler/locks/postgres.js';
import { createNatsKvLockProvider } from '../../src/scheduler/locks/nats-kv.js';
import type { LockProvider, Scheduler } from '../../src/scheduler/types.js';
import { natsScope, natsUrl, uniqueName } from '../nats/helpers.js';
import { pgUrl, redisUrl } from '../setup/env.js';
import { elapse, waitFor } from '../support/wait.js';
import { CHILD_ENV, type ChildConfig } from './multi-instance-config.js';

const logger = pino({ level: process.env.JOBBUS_LOG_LEVEL ?? 'silent' });
const scope = natsScope('sched-multi');
const run = uniqueName('multi').replace(/-/g, '_');
const redisPrefix = `jobbus-test:${run}:`;
const table = `sched_${run}`;
const producers: Jobbus[] = [];
let consumer: Jobbus;
const providers: LockProvider[] = [];
/** Job id -> how many times the consumer got it. */
const received = new Map<string, number>();

const tickOf = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1));
const idsOf = (task: string) => [...received.keys()].filter((id) => id.startsWith(`sched-${task}-`));
const track = <P extends LockProvider>(p: P): P => (providers.push(p), p);

beforeAll(async () => {
  consumer = createJobbus({ bus: await scope.bus(), logger });
  for (let i = 0; i < 3; i++) producers.push(createJobbus({ bus: await scope.bus(), logger }));
});

afterAll(async () => {
  await Promise.allSettled(providers.map((p) => p.close()));
  await Promise.allSettled([consumer, ...producers].map((j) => j.close()));
  await scope.cleanup(); // the queue streams and the NATS KV buckets (same prefix)
  const redis = await createClient({ url: redisUrl() }).connect();
  for await (const keys of redis.scanIterator({ MATCH: `${redisPrefix}*` })) if (keys.length) await redis.del(keys);
  await redis.close();
  const pool = new pg.Pool({ connectionString: pgUrl() });
  await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_fired"`);
  await pool.end();
});

/** A consumer worker on `queue` counting what arrives. */
async function consume(queue: string): Promise<void> {
  const worker = consumer.worker({
    queues: [queue],
    handlers: {
      tick: async (job) => {
        received.set(job.id, (received.get(job.id) ?? 0) + 1);
      },
    },
  });
  await worker.start();
}

const kinds: Record<string, (i: number) => LockProvider> = {
  memory: (() => {
    const shared = createMemoryLockProvider(); // one process: the instances share the object
    return () => shared;
  })(),
  Redis: () => track(createRedisLockProvider({ url: redisUrl() }, { prefix: redisPrefix })),
  PostgreSQL: () => track(createPostgresLockProvider({ connectionString: pgUrl() }, { table })),
  'NATS KV': () => track(createNatsKvLockProvider({ servers: natsUrl() }, { bucket: `${scope.streamPrefix}_locks` })),
};

describe('three scheduler instances on one task, @every 1s for 10 s', () => {
  for (const [kind, makeLocks] of Object.entries(kinds)) {
    it(`${kind}: exactly one job per tick, none missed but the edge ticks`, async () => {
      const task = uniqueName(`every-${kind}`);
      const queue = uniqueName('sched-q');
      await consume(queue);
      const schedulers = producers.map((jobs, i) => createScheduler({ jobs, locks: makeLocks(i), logger }));
      for (const s of schedulers) s.register({ name: task, schedule: '@every 1s', queue, jobName: 'tick' });
      const startedAt = Date.now();
      await Promise.all(schedulers.map((s) => s.start()));
      await elapse(10_000);
      const stoppedAt = Date.now();
      await Promise.all(schedulers.map((s) => s.stop()));

      const fired = schedulers.reduce((n, s) => n + s.counters().fired, 0);
      await waitFor(() => idsOf(task).length >= fired, `${fired} jobs at the consumer`);
      const ids = idsOf(task);
      expect(ids.map((id) => received.get(id))).toEqual(ids.map(() => 1));
      expect(ids).toHaveLength(fired); // no double fire, not even one the NATS dedup would hide
      expect(schedulers.reduce((n, s) => n + s.counters().givenUp, 0)).toBe(0);
      const ticks = new Set(ids.map(tickOf));
      for (const t of ticks) expect(t >= startedAt - 1_000 && t <= stoppedAt).toBe(true);
      const interior: number[] = [];
      for (let t = Math.ceil((startedAt + 1_000) / 1_000) * 1_000; t < stoppedAt - 1_000; t += 1_000) interior.push(t);
      expect(interior.length).toBeGreaterThanOrEqual(7);
      expect(interior.filter((t) => !ticks.has(t))).toEqual([]);
    }, 30_000);
  }
});

describe('failover', () => {
  it('kill -9 of the process holding the current tick: the next tick fires once', async () => {
    const task = uniqueName('kill');
    const queue = uniqueName('sched-q');
    await consume(queue);
    const config: ChildConfig = {
      pgUrl: pgUrl(),
      table,
      natsUrl: natsUrl(),
      subjectPrefix: scope.subjectPrefix,
      streamPrefix: scope.streamPrefix,
      task,
      queue,
      stallMs: 300,
    };
    const children = [0, 1, 2].map(() => startChild(config));
    try {
      await Promise.all(children.map((c) => c.ready));
      await waitFor(() => children.flatMap((c) => c.fired).length >= 2, 'two ticks fired', 15_000);
      // The next dispatch that starts: kill its process while it holds the lock, mid-enqueue.
      const { child: victim, id: killedId } = await nextFiring(children);
      victim.process.kill('SIGKILL');
      const killedTick = tickOf(killedId);
      const after = [1, 2, 3].map((n) => `sched-${task}-${killedTick + n * 1_000}`);
      await waitFor(() => after.every((id) => children.some((c) => c.fired.includes(id))), 'three ticks after the kill', 15_000);
      await Promise.all(children.map((c) => c.stop()));

      const firedIds = children.flatMap((c) => c.fired);
      const times = (id: string) => firedIds.filter((f) => f === id).length;
      expect(times(killedId)).toBeLessThanOrEqual(1); // lost with its process, or fired once
      for (const id of after) expect(times(id)).toBe(1);
      await waitFor(() => after.every((id) => received.get(id) === 1), 'the consumer to get the ticks after the kill');
      expect(victim.fired).not.toContain(after[0]);
    } finally {
      for (const c of children) c.process.kill('SIGKILL');
    }
  }, 45_000);

  it('fire_once: every instance down for 5 ticks, one back: one catch-up job', async () => {
    const task = uniqueName('catch-up');
    const queue = uniqueName('sched-q');
    await consume(queue);
    const spec = { name: task, schedule: '@every 1s', queue, jobName: 'tick', misfirePolicy: 'fire_once' as const };
    const first: Scheduler = createScheduler({ jobs: producers[0]!, locks: kinds.Redis!(0), logger });
    first.register(spec);
    await first.start();
    await waitFor(() => idsOf(task).length >= 2, 'two ticks before the downtime');
    await first.stop();
    const lastBefore = Math.max(...idsOf(task).map(tickOf));
    await elapse(5_500); // five ticks with no instance running

    const second = createScheduler({ jobs: producers[1]!, locks: kinds.Redis!(1), logger });
    second.register(spec);
    const backAt = Date.now();
    await second.start();
    await waitFor(() => idsOf(task).some((id) => tickOf(id) > backAt), 'a regular tick after the restart');
    await second.stop();

    // After the downtime: one catch-up run (for the latest missed tick, fired on start), then
    // the regular ticks one second apart; nothing for the collapsed ticks in between.
    const [catchUp, ...regular] = idsOf(task).map(tickOf).filter((t) => t > lastBefore).sort((a, b) => a - b);
    expect(catchUp! - lastBefore).toBeGreaterThanOrEqual(5_000);
    expect(catchUp!).toBeLessThanOrEqual(backAt + 1_000);
    regular.forEach((t, i) => expect(t - (i === 0 ? catchUp! : regular[i - 1]!)).toBe(1_000));
    expect(second.counters().collapsed).toBeGreaterThanOrEqual(4);
  }, 30_000);
});

interface Child {
  readonly process: ChildProcess;
  readonly ready: Promise<void>;
  /** Job ids this process saw accepted by the bus. */
  readonly fired: string[];
  /** Job ids whose dispatch this process started (lock held). */
  readonly firing: string[];
  onLine(fn: () => void): void;
  stop(): Promise<void>;
}

const CHILD_SCRIPT = fileURLToPath(new URL('./multi-instance-child.ts', import.meta.url));

function startChild(config: ChildConfig): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT], {
    cwd: fileURLToPath(new URL('../../', import.meta.url)),
    env: { ...process.env, [CHILD_ENV]: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const fired: string[] = [];
  const firing: string[] = [];
  const listeners: (() => void)[] = [];
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4_096)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const ready = new Promise<void>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const [word, id] = buf.slice(0, nl).split(' ');
        buf = buf.slice(nl + 1);
        if (word === 'READY') resolve();
        if (word === 'FIRED') fired.push(id!);
        if (word === 'FIRING') firing.push(id!);
        for (const fn of listeners) fn();
      }
    });
    void exited.then(() => reject(new Error(`scheduler child exited before READY: ${err}`)));
  });
  ready.catch(() => undefined);
  return {
    process: proc,
    ready,
    fired,
    firing,
    onLine: (fn) => listeners.push(fn),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const hung = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(hung);
    },
  };
}

/** Resolves with the next child to print FIRING (a dispatch holding its lock, not yet enqueued). */
function nextFiring(children: Child[]): Promise<{ child: Child; id: string }> {
  const seen = children.map((c) => c.firing.length);
  return new Promise((resolve) => {
    children.forEach((child, i) =>
      child.onLine(() => {
        if (child.firing.length > seen[i]!) resolve({ child, id: child.firing[seen[i]!]! });
      }),
    );
  });
}
