/**
 * Wall clocks of IANA time zones, for the DST rule of cron schedules. A "wall time" is the
 * local date and time written as if it were UTC (ms since the epoch), so cron fields can be
 * matched in UTC arithmetic and mapped back to real instants here.
 */

const SECOND = 1_000;
const DAY = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** True when `timezone` is an IANA zone (or `UTC`) this runtime's `Intl` knows. */
export function isValidZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  return f;
}

/** The wall time of instant `ms` in `timezone`. */
export function wallOf(ms: number, timezone: string): number {
  const whole = Math.floor(ms / SECOND) * SECOND;
  const p: Record<string, number> = {};
  for (const part of formatter(timezone).formatToParts(new Date(whole))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  const d = new Date(0);
  d.setUTCFullYear(p.year ?? 1970, (p.month ?? 1) - 1, p.day ?? 1);
  d.setUTCHours(p.hour ?? 0, p.minute ?? 0, p.second ?? 0, 0);
  return d.getTime() + (ms - whole);
}

/** UTC offset of `timezone` at instant `ms`, in ms (wall minus instant). */
export function offsetAt(ms: number, timezone: string): number {
  return wallOf(ms, timezone) - ms;
}

/**
 * The first whole second in (lo, hi] whose offset is that of `hi`: the instant of the one
 * transition between them (callers guarantee the offsets at `lo` and `hi` differ).
 */
export function transitionBetween(lo: number, hi: number, timezone: string): number {
  const target = offsetAt(hi, timezone);
  let a = Math.floor(lo / SECOND);
  let b = Math.ceil(hi / SECOND);
  while (b - a > 1) {
    const mid = Math.floor((a + b) / 2);
    if (offsetAt(mid * SECOND, timezone) === target) b = mid;
    else a = mid;
  }
  return b * SECOND;
}

/**
 * The instant a wall time fires at. A wall time that occurs twice (autumn) maps to its first
 * occurrence; one skipped by a spring-forward gap maps to the gap's end (the next valid
 * instant, e.g. 02:30 -> 03:00 local). Assumes at most one transition within a day of `wall`,
 * as in every real zone.
 */
export function resolveWall(wall: number, timezone: string): number {
  const early = offsetAt(wall - DAY, timezone);
  const late = offsetAt(wall + DAY, timezone);
  // The larger offset gives the earlier instant: try it first so a repeated time maps to its first occurrence.
  for (const offset of early >= late ? [early, late] : [late, early]) {
    if (wallOf(wall - offset, timezone) === wall) return wall - offset;
  }
  // In a gap: the transition lies between the instant under the new offset and under the old one.
  return transitionBetween(wall - late, wall - early, timezone);
}
