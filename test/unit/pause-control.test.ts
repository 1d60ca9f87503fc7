/**
 * Pause control (src/control/) details the conformance cases do not reach: the fold's
 * lost-update rules, refreshes, the limit of paused queues, a bus that cannot browse, and
 * workers that take nothing until the paused queues are read.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError, NotInitializedError } from '../../src/errors.js';
import { createMemoryEventBus } from '../../src/eventbus/memory/index.js';
import type { BrowsableBus, BrowsedMessage, EventBus } from '../../src/eventbus/types.js';
import { createJobbus, type Jobbus } from '../../src/jobbus.js';
import { createJob } from '../../src/jobs/job.js';
import type { Job } from '../../src/jobs/types.js';
import { CONTROL_WINDOW, MAX_PAUSED, REFRESH_AFTER_MS, controlTopicOf, encodeRecord, foldRecords, needsRefresh, type ControlRecord } from '../../src/control/records.js';
import { deferred, elapse, waitFor } from '../../src/testing/wait.js';
import { plainMemoryBus } from '../face/plain-bus.js';

const silent = pino({ level: 'silent' });
const opened: Jobbus[] = [];
afterEach(async () => {
  for (const j of opened.splice(0)) await j.close();
});

function jobbus(bus: EventBus, group = 'g'): Jobbus {
  const j = createJobbus({ bus, group, ownsBus: false, logger: silent, controlPollMs: 50 });
  opened.push(j);
  return j;
}

/** Browsed messages, newest first, from records given oldest first. */
function browsed(records: readonly ControlRecord[], now = Date.now()): BrowsedMessage[] {
  return records
    .map((r, i) => ({ ...encodeRecord(r), position: `#${i}`, publishedAt: new Date(now - (records.length - i) * 1_000) }))
    .reverse();
}

describe('control records: the fold', () => {
  const rec = (version: number, paused: boolean, queue = 'q', group = 'g'): ControlRecord => ({ queue, group, paused, version, ...(paused && { pausedAt: new Date(0) }) });

  it('keeps the highest version of each queue; a late older record (slow operator, refresh) does not resurrect it', () => {
    const folded = foldRecords(browsed([rec(1, true), rec(2, false), rec(1, true)]), 'g');
    expect(folded.get('q')).toMatchObject({ paused: false, version: 2 });
  });

  it('between two records of the same version (two operators at once) the newer wins', () => {
    expect(foldRecords(browsed([rec(1, true), rec(2, true), rec(2, false)]), 'g').get('q')).toMatchObject({ paused: false, version: 2 });
    expect(foldRecords(browsed([rec(1, true), rec(2, false), rec(2, true)]), 'g').get('q')).toMatchObject({ paused: true, version: 2 });
  });

  it('ignores other groups, other messages and malformed records', () => {
    const junk: BrowsedMessage = { value: new TextEncoder().encode('{"queue":'), headers: { 'jobbus-control': '1' }, position: 'x', publishedAt: new Date() };
    const plain: BrowsedMessage = { value: new TextEncoder().encode('{}'), headers: {}, position: 'y', publishedAt: new Date() };
    const folded = foldRecords([junk, plain, ...browsed([rec(1, true, 'q', 'other'), rec(1, true, 'r')])], 'g');
    expect([...folded.keys()]).toEqual(['r']);
  });

  it('re-publishes a paused record in the older half of the window or older than a day, never a running one', () => {
    const now = Date.now();
    const base = { queue: 'q', group: 'g', version: 1, storedAt: new Date(now) };
    expect(needsRefresh({ ...base, paused: true, index: 0 }, now)).toBe(false);
    expect(needsRefresh({ ...base, paused: true, index: CONTROL_WINDOW / 2 }, now)).toBe(true);
    expect(needsRefresh({ ...base, paused: true, index: 0, storedAt: new Date(now - REFRESH_AFTER_MS) }, now)).toBe(true);
    expect(needsRefresh({ ...base, paused: false, index: CONTROL_WINDOW - 1 }, now)).toBe(false);
  });
});

describe('jobs.pause / resume / paused', () => {
  it('writes versioned records to the group control topic; pause and resume are idempotent', async () => {
    const bus = createMemoryEventBus();
    const jobs = jobbus(bus);
    await jobs.pause('q');
    await jobs.pause('q'); // nothing written
    const first = (await jobs.paused())[0]!;
    expect(first).toMatchObject({ queue: 'q', group: 'g' });
    await jobs.resume('q');
    await jobs.resume('q');
    expect(await jobs.paused()).toEqual([]);
    const records = await bus.browse(controlTopicOf('g'), 10);
    expect(records.map((m) => JSON.parse(new TextDecoder().decode(m.value)) as ControlRecord).map((r) => [r.version, r.paused])).toEqual([
      [2, false],
      [1, true],
    ]);
    // Another group does not see it.
    await jobs.pause('q');
    expect(await jobbus(bus, 'other').paused()).toEqual([]);
  });

  it(`refuses to pause more than ${MAX_PAUSED} queues of a group`, async () => {
    const jobs = jobbus(createMemoryEventBus());
    for (let i = 0; i < MAX_PAUSED; i++) await jobs.pause(`q${i}`);
    await expect(jobs.pause('one-more')).rejects.toBeInstanceOf(ConflictError);
    await jobs.pause('q0'); // already paused: fine
  });

  it('on a bus that cannot browse: pause, resume and paused reject with NotInitializedError; workers run as usual', async () => {
    const jobs = jobbus(plainMemoryBus());
    await expect(jobs.pause('q')).rejects.toBeInstanceOf(NotInitializedError);
    await expect(jobs.resume('q')).rejects.toBeInstanceOf(NotInitializedError);
    await expect(jobs.paused()).rejects.toBeInstanceOf(NotInitializedError);
    const ran = deferred();
    await jobs.worker({ queues: ['q'], handlers: { j: async () => ran.resolve() } }).start();
    await jobs.enqueue(createJob({ name: 'j', queue: 'q', payload: 1 }));
    await ran.promise;
  });

  it('a worker takes no job until the paused queues were read (reads failing at first), then obeys them', async () => {
    const memory = createMemoryEventBus();
    await jobbus(memory).pause('q');
    let failures = 3;
    const flaky: EventBus & BrowsableBus = Object.assign(Object.create(memory) as typeof memory, {
      browse: (topic: string, limit: number) => (failures-- > 0 ? Promise.reject(new Error('broker down')) : memory.browse(topic, limit)),
    });
    const ran: Job[] = [];
    const jobs = jobbus(flaky);
    await jobs.worker({ queues: ['q', 'r'], reserveTimeoutMs: 50, handlers: { j: async (job) => void ran.push(job) } }).start();
    await jobs.enqueue(createJob({ name: 'j', queue: 'q', payload: 'paused' }));
    const other = await jobs.enqueue(createJob({ name: 'j', queue: 'r', payload: 'running' }));
    await waitFor(() => ran.length > 0, 'the job of the running queue', 5_000);
    expect(failures).toBeLessThan(0); // it ran only after the reads succeeded
    await elapse(200);
    expect(ran.map((j) => j.id)).toEqual([other.id]);
    await jobs.resume('q');
    await waitFor(() => ran.length === 2, 'the paused job after resume', 5_000);
  });

  it('close does not hang while workers wait for the first read', async () => {
    const memory = createMemoryEventBus();
    const stuck: EventBus & BrowsableBus = Object.assign(Object.create(memory) as typeof memory, {
      browse: () => Promise.reject(new Error('broker down')),
    });
    const jobs = createJobbus({ bus: stuck, ownsBus: false, logger: silent, controlPollMs: 20 });
    await jobs.worker({ queues: ['q'], reserveTimeoutMs: 50, handlers: { j: async () => undefined } }).start();
    await elapse(100);
    await jobs.close();
  });

  it('stats show which queues are paused', async () => {
    const jobs = jobbus(createMemoryEventBus());
    await jobs.pause('a');
    expect((await jobs.stats(['a', 'b'])).map((s) => [s.queue, s.paused])).toEqual([
      ['a', true],
      ['b', false],
    ]);
  });
});
