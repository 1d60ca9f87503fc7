/**
 * Managing tasks on a running scheduler: register/update/remove, list, trigger, typed tasks and
 * validation; plus dispatch's guard against a tick recorded as fired. Controllable clock,
 * memory bus, memory locks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConflictError, NotFoundError, SchemaError, UnavailableError, ValidationError } from '../../src/errors.js';
import { defineJob, forgetDefinition } from '../../src/jobs/define.js';
import { createClock } from '../../src/scheduler/clock.js';
import { dispatch } from '../../src/scheduler/dispatch.js';
import { createMemoryLockProvider } from '../../src/scheduler/locks/memory.js';
import { createScheduler } from '../../src/scheduler/scheduler.js';
import { defaultLogger } from '../../src/jobs/logger.js';
import type { LockProvider, Scheduler, Task } from '../../src/scheduler/types.js';
import { FakeTime, RecordingTarget } from './harness.js';

const START = Math.floor((Date.now() - 3_600_000) / 1_000) * 1_000;
const task: Task = { name: 'beat', schedule: '@every 1s', queue: 'beats', jobName: 'beat' };

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function setup(): { time: FakeTime; locks: LockProvider; target: RecordingTarget; s: Scheduler } {
  const time = new FakeTime(START + 200);
  const locks = createMemoryLockProvider({ now: time.now });
  const target = new RecordingTarget();
  const s = createScheduler({ jobs: target, locks, now: time.now, setTimer: time.setTimer, dispatchTimeoutMs: 2_000 });
  cleanups.push(() => target.jobs.close(), () => s.stop());
  return { time, locks, target, s };
}

describe('register, update, remove while running', () => {
  it('update applies from the next tick; remove stops the task; both refuse unknown names', async () => {
    const { time, target, s } = setup();
    await s.start();
    s.register({ ...task, schedule: '@every 10s' });
    const tick = Math.ceil(time.current / 10_000) * 10_000; // on the 10 s grid from the epoch
    await time.advance(tick - time.current + 999);
    expect(target.ids()).toEqual([`sched-beat-${tick}`]);
    s.update({ ...task, schedule: '@every 1s', jobName: 'beat-v2' });
    await time.advance(2_000);
    expect(target.ids().slice(1)).toEqual([`sched-beat-${tick + 1_000}`, `sched-beat-${tick + 2_000}`]);
    expect(target.accepted.at(-1)!.name).toBe('beat-v2');
    expect(s.remove('beat')).toBe(true);
    await time.advance(5_000);
    expect(target.accepted).toHaveLength(3);
    expect(time.pending).toBe(0);
    expect(s.remove('beat')).toBe(false);
    expect(() => s.update(task)).toThrow(NotFoundError);
  });

  it('a name registered twice is a ConflictError', () => {
    const { s } = setup();
    s.register(task);
    expect(() => s.register({ ...task, schedule: '@hourly' })).toThrow(ConflictError);
  });

  it('stop() ends the timers; start() again catches up from the store', async () => {
    const { time, target, s } = setup();
    s.register({ ...task, misfirePolicy: 'fire_once' });
    await s.start();
    await time.advance(1_000);
    await s.stop();
    expect(time.pending).toBe(0);
    await time.advance(5_000); // ticks +2 .. +6 s missed
    await s.start();
    await time.advance(10);
    expect(target.ids()).toEqual([`sched-beat-${START + 1_000}`, `sched-beat-${START + 6_000}`]);
    expect(s.counters().collapsed).toBe(4);
  });
});

describe('list', () => {
  it('shows each task with its next fire and the last fire from the store', async () => {
    const { time, locks, s } = setup();
    s.register({ ...task, timezone: 'Europe/Rome' });
    s.register({ name: 'report', schedule: '0 2 * * *', timezone: 'Europe/Rome', queue: 'reports', jobName: 'build', misfirePolicy: 'fire_once' });
    expect((await s.list()).map((t) => t.nextFireAt)).toEqual([undefined, undefined]);
    await s.start();
    await time.advance(1_000);
    const [beat, report] = await s.list();
    expect(beat).toMatchObject({ name: 'beat', schedule: '@every 1s', timezone: 'Europe/Rome', queue: 'beats', jobName: 'beat', misfirePolicy: 'skip' });
    expect(beat!.lastFiredAt?.getTime()).toBe(START + 1_000);
    expect(beat!.nextFireAt?.getTime()).toBe(START + 2_000);
    expect(report).toMatchObject({ name: 'report', queue: 'reports', jobName: 'build', misfirePolicy: 'fire_once', lastFiredAt: undefined });
    expect(report!.nextFireAt!.toLocaleString('sv-SE', { timeZone: 'Europe/Rome' })).toMatch(/ 02:00:00$/);
    // Another instance's fire shows too: the last fire is read from the store.
    await locks.recordFired('report', new Date(START));
    expect((await s.list())[1]!.lastFiredAt?.getTime()).toBe(START);
    await s.stop();
    expect((await s.list())[0]!.nextFireAt).toBeUndefined();
  });
});

describe('trigger', () => {
  it('fires now under its own lock and reports the job, or why not', async () => {
    const { time, locks, target, s } = setup();
    s.register({ ...task, schedule: '@daily' });
    const fired = await s.trigger('beat');
    expect(fired).toEqual({ fired: true, jobId: `sched-beat-manual-${START + 200}` });
    expect(target.accepted[0]).toMatchObject({ id: `sched-beat-manual-${START + 200}`, queue: 'beats', name: 'beat' });
    expect(target.accepted[0]!.idempotencyKey).toBe(`beat@manual:${new Date(START + 200).toISOString()}`);
    expect(await locks.lastFired('beat')).toBeUndefined(); // a trigger is not a tick

    expect(await s.trigger('nope')).toEqual({ fired: false, reason: 'unknown_task' });
    expect(await s.trigger('beat')).toEqual({ fired: false, reason: 'lock_held' }); // same ms: same manual lock

    await time.advance(1);
    target.override = () => Promise.reject(new UnavailableError('broker away'));
    const failing = s.trigger('beat');
    await time.advance(3_000);
    const result = await failing;
    expect(result).toMatchObject({ fired: false, reason: 'enqueue_failed' });
    expect(result.fired === false && result.error).toBeInstanceOf(UnavailableError);
    expect(s.counters().fired).toBe(0);
  });
});

describe('typed tasks and validation', () => {
  afterEach(() => void forgetDefinition('sched-typed-report'));

  it('a typed task is validated at register and enqueued as the definition says', async () => {
    const { time, target, s } = setup();
    const report = defineJob({ name: 'sched-typed-report', queue: 'reports', schema: z.object({ format: z.enum(['pdf', 'csv']) }), maxAttempts: 3, handler: () => undefined });
    const err = (() => {
      try {
        s.register({ name: 'typed', schedule: '@every 1s', job: report, payload: { format: 'doc' as 'pdf' } });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SchemaError);
    expect((err as SchemaError).field).toBe('payload.format');
    s.register({ name: 'typed', schedule: '@every 1s', job: report, payload: { format: 'pdf' } });
    await s.start();
    await time.advance(1_000);
    const job = target.accepted[0]!;
    expect(job).toMatchObject({ queue: 'reports', name: 'sched-typed-report', contentType: 'application/json', maxAttempts: 3 });
    expect(report.decode(job.payload)).toEqual({ format: 'pdf' });
    expect((await s.list())[0]).toMatchObject({ queue: 'reports', jobName: 'sched-typed-report' });
  });

  it.each([
    [{ ...task, name: 'has space' }, 'name'],
    [{ ...task, name: '' }, 'name'],
    [{ ...task, schedule: '* * *' }, 'schedule'],
    [{ ...task, timezone: 'Nowhere/Land' }, 'timezone'],
    [{ ...task, queue: '' }, 'queue'],
    [{ ...task, jobName: undefined as unknown as string }, 'jobName'],
    [{ ...task, lockTtlMs: 10 }, 'lockTtlMs'],
    [{ ...task, misfirePolicy: 'fire_all' as 'skip' }, 'misfirePolicy'],
    [{ ...task, headers: { a: 1 as unknown as string } }, 'headers.a'],
    [{ ...task, payload: '' }, 'payload'],
  ])('%j is refused naming %s', (bad, field) => {
    const { s } = setup();
    let caught: unknown;
    try {
      s.register(bad);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).field).toBe(field);
  });
});

describe('dispatch', () => {
  it('takes the lock but does not enqueue a tick the store already records as fired (a failed-over instance fired it)', async () => {
    const time = new FakeTime(START);
    const locks = createMemoryLockProvider({ now: time.now });
    const target = new RecordingTarget();
    cleanups.push(() => target.jobs.close());
    await locks.recordFired('beat', new Date(START));
    const deps = { jobs: target, locks, clock: createClock(time.now, time.setTimer), logger: defaultLogger(), dispatchTimeoutMs: 1_000, stopping: new AbortController().signal };
    const request = { task: 'beat', key: `jobbus:sched:beat:${START}`, lockTtlMs: 1_000, job: { name: 'beat', queue: 'beats', payload: {} }, deadline: START + 1_000 };
    const outcome = await dispatch(deps, { ...request, tick: new Date(START) });
    expect(outcome).toEqual({ kind: 'fired_already', lastFired: new Date(START) });
    expect(target.calls).toBe(0);
    const later = await dispatch(deps, { ...request, key: `jobbus:sched:beat:${START + 1_000}`, tick: new Date(START + 1_000) });
    expect(later.kind).toBe('fired');
    expect((await locks.lastFired('beat'))?.getTime()).toBe(START + 1_000);
  });
});
