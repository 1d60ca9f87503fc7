/**
 * Schedules: when a task's ticks fall. Cron expressions (5 fields, or 6 with seconds first,
 * names such as MON and JAN, macros such as `@daily`) are read in an IANA time zone through
 * cron-parser; `@every <duration>` is a fixed grid anchored at the Unix epoch, so every instance
 * computes the same ticks whatever its start time.
 *
 * DST rule: a wall time that occurs twice fires once, at its first occurrence; a wall time a
 * spring-forward skips fires at the next valid instant (02:30 on the spring-forward day in
 * Europe/Rome fires at 03:00 local). cron-parser 5 alone fires both occurrences of a repeated
 * time (`0,30 * * * *` fires at 02:00 and 02:30 twice in the autumn) and moves a skipped 02:30
 * to 03:30; so cron fields are matched here on the zone's wall clock (cron-parser in UTC) and
 * each wall time is mapped to an instant by {@link resolveWall}.
 */
import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { ValidationError } from '../errors.js';
import { isValidZone, offsetAt, resolveWall, transitionBetween, wallOf } from './zone.js';

/** A parsed schedule. */
export interface Schedule {
  /** The expression as given. */
  readonly expression: string;
  /** The zone cron fields are read in (`UTC` for `@every`, which no zone affects). */
  readonly timezone: string;
  /** The grid step of an `@every` schedule, ms; undefined for cron. */
  readonly everyMs: number | undefined;
  /** The first tick strictly after `after`. */
  next(after: Date): Date;
}

const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const HELP =
  'use 5 cron fields (minute hour day-of-month month day-of-week), 6 with seconds first, ' +
  `a macro (${Object.keys(MACROS).join(' ')}) or "@every <duration>" (e.g. @every 90s, @every 1h30m)`;

const UNITS: Readonly<Record<string, number>> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 };
// Wall times scanned per next() before giving up: far more than a repeated DST hour of seconds.
const MAX_STEPS = 10_000;

/**
 * Parse a schedule read in `timezone` (default `UTC`). Throws a `ValidationError` with field
 * `schedule` or `timezone` and a message saying what is accepted.
 */
export function parseSchedule(expression: string, timezone = 'UTC'): Schedule {
  if (typeof timezone !== 'string' || timezone.trim() === '' || !isValidZone(timezone)) {
    throw new ValidationError('timezone', `${JSON.stringify(timezone)} is not an IANA time zone (e.g. "UTC", "Europe/Rome", "America/New_York")`);
  }
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new ValidationError('schedule', `is required; ${HELP}`);
  }
  const text = expression.trim();
  if (/^@every\b/i.test(text)) return everySchedule(expression, text);
  return cronSchedule(expression, text, timezone);
}

/** Milliseconds of a duration such as `90s`, `5m`, `1h30m`, `1d`; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/i.exec(text);
  if (!m || text === '') return undefined;
  const [, d, h, min, s] = m;
  const ms = Number(d ?? 0) * UNITS.d! + Number(h ?? 0) * UNITS.h! + Number(min ?? 0) * UNITS.m! + Number(s ?? 0) * UNITS.s!;
  return Number.isSafeInteger(ms) ? ms : undefined;
}

function everySchedule(expression: string, text: string): Schedule {
  const duration = text.slice('@every'.length).trim();
  const everyMs = parseDuration(duration);
  if (everyMs === undefined || everyMs < 1_000) {
    throw new ValidationError('schedule', `"${expression}": the duration must be at least 1s, written like 90s, 5m, 1h30m or 1d`);
  }
  return {
    expression,
    timezone: 'UTC',
    everyMs,
    next: (after) => new Date((Math.floor(after.getTime() / everyMs) + 1) * everyMs),
  };
}

function cronSchedule(expression: string, text: string, timezone: string): Schedule {
  const fields = (MACROS[text.toLowerCase()] ?? text).split(/\s+/);
  if (text.startsWith('@') && !MACROS[text.toLowerCase()]) {
    throw new ValidationError('schedule', `"${expression}" is not a known macro; ${HELP}`);
  }
  if (fields.length !== 5 && fields.length !== 6) {
    throw new ValidationError('schedule', `"${expression}" has ${fields.length} fields; ${HELP}`);
  }
  // cron-parser's H (hashed) values depend on a seed: instances could compute different ticks.
  if (fields.some((f) => /(^|,)H($|[(/,])/.test(f.toUpperCase()))) {
    throw new ValidationError('schedule', `"${expression}": hashed values (H) are not supported; write the minute or hour out`);
  }
  let cron: CronExpression;
  try {
    cron = CronExpressionParser.parse(fields.join(' '), { tz: 'UTC', currentDate: new Date(0) });
    cron.next(); // an expression no date satisfies (30 February) fails here, not at the first tick
  } catch (err) {
    throw new ValidationError('schedule', `"${expression}" is not a valid cron expression (${(err as Error).message}); ${HELP}`, { cause: err });
  }
  const nextWall = (wall: number): number => {
    cron.reset(new Date(wall));
    return cron.next().getTime();
  };
  return { expression, timezone, everyMs: undefined, next: (after) => new Date(nextInstant(after.getTime(), timezone, nextWall)) };
}

/**
 * The first instant after `after` whose wall time matches: scan matching wall times from the
 * wall time of `after`, map each to its instant, keep the first one later than `after`. Only
 * when `after` lies in the second pass of a repeated hour do mapped instants fall at or before
 * it (they map to the first pass); the scan then jumps to the end of the repeated hour.
 */
function nextInstant(after: number, timezone: string, nextWall: (wall: number) => number): number {
  let cursor = wallOf(after, timezone);
  for (let step = 0; step < MAX_STEPS; step++) {
    const wall = nextWall(cursor);
    const at = resolveWall(wall, timezone);
    if (at > after) return at;
    // `at` is in the first pass (old offset), `after` in the second: the repeated hour ends at
    // the transition's wall time under the old offset.
    const transition = offsetAt(at, timezone) === offsetAt(after, timezone) ? after : transitionBetween(at, after, timezone);
    cursor = Math.max(wall, transition + offsetAt(at, timezone) - 1);
  }
  throw new ValidationError('schedule', `no tick found after ${new Date(after).toISOString()} in ${MAX_STEPS} steps`);
}
