/**
 * Schedules: cron fields, macros, `@every` grids and the DST rule, checked against known
 * instants (no clock involved). Rome: 2026-03-29 02:00 -> 03:00 (01:00Z), 2026-10-25 03:00 ->
 * 02:00 (01:00Z). New York: 2026-03-08 02:00 -> 03:00 (07:00Z), 2026-11-01 02:00 -> 01:00 (06:00Z).
 */
import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { parseDuration, parseSchedule } from '../../src/scheduler/schedule.js';

/** The next `n` ticks after `from`, as ISO strings. */
function ticks(expression: string, timezone: string, from: string, n: number): string[] {
  const schedule = parseSchedule(expression, timezone);
  const out: string[] = [];
  let at = new Date(from);
  for (let i = 0; i < n; i++) {
    at = schedule.next(at);
    out.push(at.toISOString());
  }
  return out;
}

function validationError(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return err as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('cron fields', () => {
  it('reads 5 fields, names and the first tick strictly after', () => {
    expect(ticks('0 * * * *', 'UTC', '2026-01-01T10:00:00.000Z', 2)).toEqual(['2026-01-01T11:00:00.000Z', '2026-01-01T12:00:00.000Z']);
    expect(ticks('0 9 * JAN MON', 'UTC', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-05T09:00:00.000Z', '2026-01-12T09:00:00.000Z']);
    expect(ticks('0 9 * * mon-thu', 'UTC', '2026-03-07T00:00:00Z', 2)).toEqual(['2026-03-09T09:00:00.000Z', '2026-03-10T09:00:00.000Z']);
  });

  it('reads 6 fields with seconds first', () => {
    expect(ticks('*/15 * * * * *', 'UTC', '2026-01-01T10:00:00.500Z', 3)).toEqual([
      '2026-01-01T10:00:15.000Z',
      '2026-01-01T10:00:30.000Z',
      '2026-01-01T10:00:45.000Z',
    ]);
    expect(ticks('30 0 12 * * *', 'UTC', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-01T12:00:30.000Z']);
  });

  it('expands the macros', () => {
    const from = '2026-05-13T10:20:30Z'; // a Wednesday
    expect(ticks('@yearly', 'UTC', from, 1)).toEqual(['2027-01-01T00:00:00.000Z']);
    expect(ticks('@annually', 'UTC', from, 1)).toEqual(['2027-01-01T00:00:00.000Z']);
    expect(ticks('@monthly', 'UTC', from, 1)).toEqual(['2026-06-01T00:00:00.000Z']);
    expect(ticks('@weekly', 'UTC', from, 1)).toEqual(['2026-05-17T00:00:00.000Z']);
    expect(ticks('@daily', 'UTC', from, 1)).toEqual(['2026-05-14T00:00:00.000Z']);
    expect(ticks('@midnight', 'UTC', from, 1)).toEqual(['2026-05-14T00:00:00.000Z']);
    expect(ticks('@hourly', 'UTC', from, 1)).toEqual(['2026-05-13T11:00:00.000Z']);
    expect(ticks('@daily', 'Asia/Tokyo', from, 1)).toEqual(['2026-05-13T15:00:00.000Z']);
  });
});

describe('@every', () => {
  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('')).toBeUndefined();
    expect(parseDuration('5 minutes')).toBeUndefined();
  });

  it('is a grid anchored at the epoch: instances started at different times compute the same ticks', () => {
    const a = ticks('@every 90s', 'UTC', '2026-03-07T00:00:00.000Z', 4);
    const b = ticks('@every 90s', 'UTC', '2026-03-07T00:01:17.123Z', 3);
    expect(a).toEqual(['2026-03-07T00:01:30.000Z', '2026-03-07T00:03:00.000Z', '2026-03-07T00:04:30.000Z', '2026-03-07T00:06:00.000Z']);
    expect(b).toEqual(a.slice(0, 3));
    const c = parseSchedule('@every 7s').next(new Date(1_000_003));
    expect(c.getTime() % 7_000).toBe(0);
    expect(c.getTime()).toBe(1_001_000);
  });

  it('ignores the zone (a grid of real time)', () => {
    expect(ticks('@every 1h', 'Europe/Rome', '2026-10-25T00:30:00Z', 3)).toEqual([
      '2026-10-25T01:00:00.000Z',
      '2026-10-25T02:00:00.000Z',
      '2026-10-25T03:00:00.000Z',
    ]);
  });
});

describe('DST', () => {
  it('Europe/Rome spring forward: a skipped 02:30 fires at 03:00 local (cron-parser alone says 03:30)', () => {
    expect(ticks('30 2 * * *', 'Europe/Rome', '2026-03-28T00:00:00Z', 3)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST: the next valid instant
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
    // Two skipped times both map to 03:00, which fires once.
    expect(ticks('15,45 2 * * *', 'Europe/Rome', '2026-03-29T00:00:00Z', 2)).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-30T00:15:00.000Z']);
    expect(ticks('0,30 * * * *', 'Europe/Rome', '2026-03-29T00:15:00Z', 3)).toEqual([
      '2026-03-29T00:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T01:30:00.000Z',
    ]);
  });

  it('Europe/Rome fall back: the repeated 02:00 and 02:30 fire once, at their first occurrence', () => {
    expect(ticks('0,30 * * * *', 'Europe/Rome', '2026-10-24T23:15:00Z', 5)).toEqual([
      '2026-10-24T23:30:00.000Z', // 01:30 CEST
      '2026-10-25T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T02:00:00.000Z', // 03:00 CET (cron-parser alone adds 02:00 and 02:30 CET)
      '2026-10-25T02:30:00.000Z',
    ]);
    expect(ticks('30 2 * * *', 'Europe/Rome', '2026-10-24T12:00:00Z', 2)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('a next() asked from inside the second pass skips to after the repeated hour', () => {
    expect(ticks('0,30 * * * *', 'Europe/Rome', '2026-10-25T01:10:00Z', 1)).toEqual(['2026-10-25T02:00:00.000Z']);
    expect(ticks('* * * * * *', 'Europe/Rome', '2026-10-25T01:10:00Z', 2)).toEqual(['2026-10-25T02:00:00.000Z', '2026-10-25T02:00:01.000Z']);
  });

  it('America/New_York spring forward: a skipped 02:30 fires at 03:00 EDT', () => {
    expect(ticks('30 2 * * *', 'America/New_York', '2026-03-07T00:00:00Z', 3)).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-09T06:30:00.000Z',
    ]);
    expect(ticks('0 9 * * *', 'America/New_York', '2026-03-07T00:00:00Z', 2)).toEqual(['2026-03-07T14:00:00.000Z', '2026-03-08T13:00:00.000Z']);
  });

  it('America/New_York fall back: 01:30 fires once, in EDT', () => {
    expect(ticks('30 1 * * *', 'America/New_York', '2026-10-31T00:00:00Z', 3)).toEqual([
      '2026-10-31T05:30:00.000Z',
      '2026-11-01T05:30:00.000Z', // 01:30 EDT; not again at 01:30 EST (06:30Z)
      '2026-11-02T06:30:00.000Z',
    ]);
    expect(ticks('0,30 * * * *', 'America/New_York', '2026-11-01T04:15:00Z', 4)).toEqual([
      '2026-11-01T04:30:00.000Z',
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T07:00:00.000Z', // 02:00 EST; 01:00 and 01:30 EST are not fired again
    ]);
  });
});

describe('invalid schedules', () => {
  it.each([
    ['61 * * * *', /not a valid cron expression.*0-59/],
    ['* * *', /has 3 fields/],
    ['0 0 0 1 1 * 2026', /has 7 fields/],
    ['@often', /not a known macro/],
    ['@every 500ms', /at least 1s/],
    ['@every soon', /at least 1s/],
    ['H * * * *', /hashed values/],
    ['0 0 30 2 *', /not a valid cron expression/],
    ['', /is required/],
  ])('%j is a ValidationError on schedule', (expression, message) => {
    const err = validationError(() => parseSchedule(expression));
    expect(err.field).toBe('schedule');
    expect(err.message).toMatch(message);
  });

  it('a zone Intl does not know is a ValidationError on timezone', () => {
    const err = validationError(() => parseSchedule('0 * * * *', 'Mars/Olympus_Mons'));
    expect(err.field).toBe('timezone');
    expect(err.message).toContain('Mars/Olympus_Mons');
  });
});

describe('cron-parser 5 alone (what parseSchedule corrects)', () => {
  const raw = (expression: string, tz: string, from: string, n: number): string[] => {
    const it = CronExpressionParser.parse(expression, { tz, currentDate: new Date(from) });
    return Array.from({ length: n }, () => it.next().toDate().toISOString());
  };

  it('moves a skipped 02:30 to 03:30, not to 03:00', () => {
    expect(raw('30 2 * * *', 'Europe/Rome', '2026-03-29T00:00:00Z', 1)).toEqual(['2026-03-29T01:30:00.000Z']);
    expect(raw('30 2 * * *', 'America/New_York', '2026-03-08T00:00:00Z', 1)).toEqual(['2026-03-08T07:30:00.000Z']);
  });

  it('fires both occurrences of a repeated wall time', () => {
    expect(raw('0,30 * * * *', 'Europe/Rome', '2026-10-24T23:45:00Z', 4)).toEqual([
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-25T01:00:00.000Z', // 02:00 again
      '2026-10-25T01:30:00.000Z', // 02:30 again
    ]);
  });

  it('agrees with parseSchedule on a daily time the autumn repeats (first occurrence)', () => {
    expect(raw('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', 2)).toEqual(ticks('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', 2));
  });
});
