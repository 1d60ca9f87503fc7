/**
 * The engine on the memory bus and memory locks, with a controllable clock: one job per tick
 * across instances, catch-up on start, slow and failing enqueues. Time moves only through
 * FakeTime.advance; nothing waits for wall time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PublishRejectedError, UnavailableError } from '../../src/errors.js';
import { createMemoryLockProvider } from '../../src/scheduler/locks/memory.js';
import { createScheduler } from '../../src/scheduler/scheduler.js';
import type { LockProvider, Scheduler, SchedulerOptions, Task } from '../../src/scheduler/types.js';
import { waitFor } from '../support/wait.js';
import { FakeTime, RecordingTarget } from './harness.js';

// A whole second an hour in the past: every tick's runAt is already due for a real worker.
const START = Math.floor((Date.now() - 3_600_000) / 1_000) * 1_000;
const task: Task = { name: 'beat', schedule: '@every 1s', queue: 'beats', jobName: 'beat' };

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function setup(overrides: Partial<SchedulerOptions> = {}): { time: FakeTime; locks: LockProvider; target: RecordingTarget; make: (o?: Partial<SchedulerOptions>) => Scheduler } {
  const time = new FakeTime(START + 200);
  const locks = createMemoryLockProvider({ now: time.now });
  const target = new RecordingTarget();
  const make = (o: Partial<SchedulerOptions> = {}): Scheduler => {
    const s = createScheduler({ jobs: target, locks, now: time.now, setTimer: time.setTimer, ...overrides, ...o });
    cleanups.push(() => s.stop());
    return s;
  };
  cleanups.push(() => target.jobs.close());
  return { time, locks, target, make };
}

describe('exactly once per tick', () => {
  it('two schedulers on one lock store, started at the same instant, fire each tick once', async () => {
    const { time, target, make } = setup();
    const a = make();
    const b = make();
    a.register(task);
    b.register(task);
    await Promise.all([a.start(), b.start()]);
    await time.advance(10_000);
    const expected = Array.from({ length: 10 }, (_, i) => `sched-beat-${START + (i + 1) * 1_000}`);
    expect(target.ids()).toEqual(expected);
    expect(target.accepted.map((j) => j.runAt.getTime())).toEqual(expected.map((_, i) => START + (i + 1) * 1_000));
    expect(target.accepted[0]!.idempotencyKey).toBe(`beat@${new Date(START + 1_000).toISOString()}`);
    expect(a.counters().fired + b.counters().fired).toBe(10);
    expect(a.counters().lockedElsewhere + b.counters().lockedElsewhere).toBe(10);

    // The jobs are real: a worker on the bus handles each once.
    const handled: string[] = [];
    const worker = target.jobs.worker({ queues: ['beats'], handlers: { beat: (job) => void handled.push(job.id) } });
    await worker.start();
    await waitFor(() => handled.length === 10, 'ten handled beats');
    expect([...handled].sort()).toEqual([...expected].sort());
  });

  it('instances started at different times compute the same @every ticks', async () => {
    const { time, target, make } = setup();
    const a = make();
    a.register(task);
    await a.start();
    await time.advance(3_300);
    const b = make();
    b.register(task);
    await b.start();
    await time.advance(3_000);
    expect(target.ids()).toEqual([1, 2, 3, 4, 5, 6].map((i) => `sched-beat-${START + i * 1_000}`));
  });

  it('keeps the tick lock after the enqueue, until its TTL has passed', async () => {
    const { time, locks, make } = setup();
    const s = make();
    s.register({ ...task, schedule: '@every 1h', lockTtlMs: 5_000 });
    await s.start();
    const tick = Math.ceil(time.current / 3_600_000) * 3_600_000;
    await time.advance(tick - time.current);
    expect(s.counters().fired).toBe(1);
    expect(await locks.acquire(`jobbus:sched:beat:${tick}`, 1_000)).toBeUndefined();
    await time.advance(5_000);
    expect(await locks.acquire(`jobbus:sched:beat:${tick}`, 1_000)).toBeDefined();
    expect((await locks.lastFired('beat'))?.getTime()).toBe(tick);
  });
});

describe('slow and failing enqueues', () => {
  it('a slow enqueue renews its lock: another instance cannot take the tick meanwhile', async () => {
    const { time, locks, target, make } = setup({ dispatchTimeoutMs: 10_000 });
    let release!: () => void;
    target.override = (input, call) => (call === 1 ? new Promise((resolve) => (release = () => resolve(input as never))).then(() => target.jobs.enqueue(input)) : undefined);
    const s = make();
    s.register({ ...task, schedule: '@every 1h', lockTtlMs: 1_000 });
    await s.start();
    const tick = Math.ceil(time.current / 3_600_000) * 3_600_000;
    try {
      await time.advance(tick - time.current + 3_500); // 3.5 lock TTLs into a hanging enqueue
      expect(await locks.acquire(`jobbus:sched:beat:${tick}`, 1_000)).toBeUndefined();
    } finally {
      release(); // else stop() in afterEach would wait for the enqueue forever
    }
    await time.advance(10);
    expect(target.ids()).toEqual([`sched-beat-${tick}`]);
    expect(s.counters()).toMatchObject({ fired: 1, givenUp: 0 });
  });

  it('a failing enqueue is retried with backoff within the window and fires once it succeeds', async () => {
    const { time, target, make } = setup({ dispatchTimeoutMs: 5_000 });
    target.override = (_input, call) => (call < 3 ? Promise.reject(new UnavailableError('broker away')) : undefined);
    const s = make();
    s.register({ ...task, schedule: '@every 1h' });
    await s.start();
    await time.advance(Math.ceil(time.current / 3_600_000) * 3_600_000 - time.current + 1_000);
    expect(target.calls).toBe(3);
    expect(target.accepted).toHaveLength(1);
    expect(s.counters()).toMatchObject({ fired: 1, givenUp: 0 });
  });

  it('an enqueue failing past the window is given up and counted, never fired twice', async () => {
    const { time, target, make } = setup({ dispatchTimeoutMs: 2_000 });
    target.override = () => Promise.reject(new UnavailableError('broker away'));
    const s = make();
    s.register({ ...task, schedule: '@every 1h' });
    await s.start();
    await time.advance(Math.ceil(time.current / 3_600_000) * 3_600_000 - time.current + 5_000);
    expect(target.calls).toBeGreaterThan(2);
    expect(s.counters()).toMatchObject({ fired: 0, givenUp: 1 });
    // A hanging enqueue counts as failed after the dispatch timeout too.
    const calls = target.calls;
    target.override = () => new Promise(() => undefined);
    await time.advance(3_600_000);
    expect(target.calls).toBeGreaterThan(calls);
    expect(s.counters().givenUp).toBe(2);
  });

  it('a publish refused for good is not retried', async () => {
    const { time, target, make } = setup();
    target.override = () => Promise.reject(new PublishRejectedError('beats', 'too large'));
    const s = make();
    s.register(task);
    await s.start();
    await time.advance(1_000);
    expect(target.calls).toBe(1);
    expect(s.counters().givenUp).toBe(1);
  });
});

describe('misfire on start', () => {
  it('fire_once: ticks missed while no instance ran become one catch-up run, then the schedule goes on', async () => {
    const { time, locks, target, make } = setup();
    await locks.recordFired('beat', new Date(START - 5_000)); // down for ticks -4 s .. 0 s
    const s = make();
    s.register({ ...task, misfirePolicy: 'fire_once' });
    await s.start();
    await time.advance(10);
    expect(target.ids()).toEqual([`sched-beat-${START}`]);
    expect(s.counters()).toMatchObject({ fired: 1, collapsed: 4 });
    await time.advance(1_000);
    expect(target.ids()).toEqual([`sched-beat-${START}`, `sched-beat-${START + 1_000}`]);
  });

  it('skip: ticks older than the grace window are dropped and counted, later ones fire', async () => {
    const { time, locks, target, make } = setup({ misfireGraceMs: 2_000 });
    await locks.recordFired('beat', new Date(START - 10_000));
    const s = make();
    s.register(task);
    await s.start();
    await time.advance(10);
    // now = START + 0.2 s: ticks START-1 s and START are within 2 s; START-9 s .. START-2 s are not.
    expect(target.ids()).toEqual([`sched-beat-${START - 1_000}`, `sched-beat-${START}`]);
    expect(s.counters()).toMatchObject({ fired: 2, skipped: 8 });
  });

  it('a task with no history fires nothing before its first tick', async () => {
    const { time, target, make } = setup();
    const s = make();
    s.register({ ...task, misfirePolicy: 'fire_once' });
    await s.start();
    await time.advance(799);
    expect(target.calls).toBe(0);
    await time.advance(1);
    expect(target.ids()).toEqual([`sched-beat-${START + 1_000}`]);
  });
});
