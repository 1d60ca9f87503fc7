/**
 * The misfire decision with a clock given as a number: which ticks fire, how many were
 * skipped or collapsed. No timers, no waiting.
 */
import { describe, expect, it } from 'vitest';
import { MAX_COUNTED, countTicks, decideMisfire, latestAtOrBefore } from '../../src/scheduler/misfire.js';
import { parseSchedule } from '../../src/scheduler/schedule.js';

const T0 = Date.parse('2026-06-01T12:00:00Z');
const everySecond = parseSchedule('@every 1s');
const hourly = parseSchedule('0 * * * *');
const iso = (ds: readonly Date[]): string[] => ds.map((d) => d.toISOString());

describe('decideMisfire', () => {
  it('fires nothing for a task without history (no tick before registration is overdue)', () => {
    for (const policy of ['skip', 'fire_once'] as const) {
      expect(decideMisfire({ schedule: everySecond, lastFired: undefined, now: new Date(T0 + 5_500), policy, graceMs: 60_000 })).toEqual({
        fire: [],
        skipped: 0,
        collapsed: 0,
        capped: false,
      });
    }
  });

  it('on time: the one due tick fires under either policy', () => {
    for (const policy of ['skip', 'fire_once'] as const) {
      const d = decideMisfire({ schedule: hourly, lastFired: new Date(T0), now: new Date(T0 + 3_600_000 + 3), policy, graceMs: 60_000 });
      expect(iso(d.fire)).toEqual(['2026-06-01T13:00:00.000Z']);
      expect(d.skipped + d.collapsed).toBe(0);
    }
  });

  it('nothing due before the next tick', () => {
    const d = decideMisfire({ schedule: hourly, lastFired: new Date(T0), now: new Date(T0 + 3_599_999), policy: 'skip', graceMs: 60_000 });
    expect(d.fire).toEqual([]);
  });

  it('skip: ticks later than the grace window are dropped and counted, the rest fire in order', () => {
    // Down from 12:00:00 to 12:00:10.5; grace 3 s: 12:00:08, :09, :10 fire; :01 .. :07 are skipped.
    const d = decideMisfire({ schedule: everySecond, lastFired: new Date(T0), now: new Date(T0 + 10_500), policy: 'skip', graceMs: 3_000 });
    expect(iso(d.fire)).toEqual(['2026-06-01T12:00:08.000Z', '2026-06-01T12:00:09.000Z', '2026-06-01T12:00:10.000Z']);
    expect(d.skipped).toBe(7);
    expect(d.collapsed).toBe(0);
  });

  it('skip on a cron schedule: a tick just inside the grace still fires, one just outside does not', () => {
    const inside = decideMisfire({ schedule: hourly, lastFired: new Date(T0), now: new Date(T0 + 3_600_000 + 60_000), policy: 'skip', graceMs: 60_000 });
    expect(iso(inside.fire)).toEqual(['2026-06-01T13:00:00.000Z']);
    const outside = decideMisfire({ schedule: hourly, lastFired: new Date(T0), now: new Date(T0 + 3_600_000 + 60_001), policy: 'skip', graceMs: 60_000 });
    expect(outside.fire).toEqual([]);
    expect(outside.skipped).toBe(1);
  });

  it('fire_once: one catch-up at the latest due tick, the others counted as collapsed', () => {
    const d = decideMisfire({ schedule: hourly, lastFired: new Date(T0), now: new Date(T0 + 5 * 3_600_000 + 1_234), policy: 'fire_once', graceMs: 0 });
    expect(iso(d.fire)).toEqual(['2026-06-01T17:00:00.000Z']);
    expect(d.collapsed).toBe(4);
    const e = decideMisfire({ schedule: everySecond, lastFired: new Date(T0), now: new Date(T0 + 5_999), policy: 'fire_once', graceMs: 60_000 });
    expect(iso(e.fire)).toEqual(['2026-06-01T12:00:05.000Z']);
    expect(e.collapsed).toBe(4);
  });

  it('a long backlog of a cron schedule is counted up to MAX_COUNTED and says so', () => {
    const secondly = parseSchedule('* * * * * *');
    const d = decideMisfire({ schedule: secondly, lastFired: new Date(T0), now: new Date(T0 + 3_600_000), policy: 'fire_once', graceMs: 0 });
    expect(iso(d.fire)).toEqual(['2026-06-01T13:00:00.000Z']);
    expect(d.collapsed).toBe(MAX_COUNTED);
    expect(d.capped).toBe(true);
    // @every counts exactly, by arithmetic.
    const e = decideMisfire({ schedule: everySecond, lastFired: new Date(T0), now: new Date(T0 + 3_600_000), policy: 'fire_once', graceMs: 0 });
    expect(e.collapsed).toBe(3_599);
    expect(e.capped).toBe(false);
  });
});

describe('helpers', () => {
  it('countTicks counts ticks strictly between, the same for cron and @every', () => {
    const cronSecond = parseSchedule('* * * * * *');
    expect(countTicks(cronSecond, T0, T0 + 10_000)).toEqual({ count: 9, capped: false });
    expect(countTicks(everySecond, T0, T0 + 10_000)).toEqual({ count: 9, capped: false });
    expect(countTicks(everySecond, T0 + 10, T0 + 10_001)).toEqual({ count: 10, capped: false });
  });

  it('latestAtOrBefore finds the last tick of a sparse schedule far back, or nothing after `since`', () => {
    const yearly = parseSchedule('@yearly');
    expect(new Date(latestAtOrBefore(yearly, 0, T0)!).toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(latestAtOrBefore(yearly, Date.parse('2026-01-01T00:00:00Z'), T0)).toBeUndefined();
  });
});
