import { DecodeError, ValidationError } from '../errors.js';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** `000Z` … `999Z`: the tail of a formatted timestamp by its milliseconds. */
const MS_Z: readonly string[] = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(3, '0')}Z`);

/**
 * The last timestamp formatted: its epoch ms and text, and its second (epoch ms of its `.000`)
 * with the text up to the milliseconds (`YYYY-MM-DDTHH:MM:SS.`). NaN matches no date.
 */
const formatted = { time: Number.NaN, text: '', second: Number.NaN, prefix: '' };

/** The second of the last `toISOString`-shaped timestamp parsed: epoch ms of its `.000` and its text up to the milliseconds. */
const parsed = { second: 0, prefix: '' };

/** The milliseconds of a 24-character `….mmmZ` timestamp, or -1 when those 4 characters are not 3 digits and `Z`. */
function msDigits(text: string): number {
  const a = text.charCodeAt(20) - 48;
  const b = text.charCodeAt(21) - 48;
  const c = text.charCodeAt(22) - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9 || text.charCodeAt(23) !== 90 /* Z */) return -1;
  return a * 100 + b * 10 + c;
}
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Parse an RFC 3339 timestamp with up to nanosecond precision (Go's RFC3339Nano writes 9
 * digits). Sub-millisecond digits are truncated: JavaScript dates hold milliseconds.
 */
export function parseRfc3339(text: string, header: string): Date {
  // Fastest path: the second of the last timestamp parsed here (jobs consumed together were
  // mostly written within the same second), so only the milliseconds are read.
  if (text.length === 24 && parsed.prefix.length === 20 && text.startsWith(parsed.prefix)) {
    const ms = msDigits(text);
    if (ms >= 0) return new Date(parsed.second + ms);
  }
  // Fast path for what jobbus itself writes (toISOString): Date parses that format exactly.
  if (text.length === 24 && ISO_MS.test(text)) {
    const d = new Date(text);
    // Date rolls 02-30 over into March and 24:00 into the next day: same day and hour or slow path.
    const day = (text.charCodeAt(8) - 48) * 10 + text.charCodeAt(9) - 48;
    const hour = (text.charCodeAt(11) - 48) * 10 + text.charCodeAt(12) - 48;
    if (d.getUTCDate() === day && d.getUTCHours() === hour) {
      // A valid `YYYY-MM-DDTHH:MM:SS.mmmZ`: any other milliseconds of this second are valid too.
      const t = d.getTime();
      parsed.prefix = text.slice(0, 20);
      parsed.second = Math.floor(t / 1000) * 1000;
      return d;
    }
  }
  const m = RFC3339.exec(text);
  if (!m) throw new DecodeError(header, `not an RFC 3339 timestamp: ${JSON.stringify(text.slice(0, 64))}`);
  const [, y, mo, d, h, mi, s, frac, zone] = m as unknown as [string, string, string, string, string, string, string, string | undefined, string];
  const ms = frac ? Number(frac.padEnd(3, '0').slice(0, 3)) : 0;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) {
    throw new DecodeError(header, `timestamp out of range: ${JSON.stringify(text)}`);
  }
  let offsetMin = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    offsetMin = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  }
  // setUTCFullYear, unlike Date.UTC, keeps years 0..99 as written.
  const date = new Date(0);
  date.setUTCFullYear(Number(y), month - 1, day);
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    throw new DecodeError(header, `not a calendar date: ${JSON.stringify(text)}`);
  }
  // A leap second (60) rolls into the next minute, as Go does when parsing.
  date.setUTCHours(Number(h), Number(mi), Number(s), ms);
  date.setTime(date.getTime() - offsetMin * 60_000);
  // An offset can carry 0000-01-01 or 9999-12-31 out of the years the wire format (and so every
  // retry or dead-letter copy of the job) can hold: such a job could never be copied again.
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) {
    throw new DecodeError(header, `timestamp is outside years 0000-9999 in UTC: ${JSON.stringify(text)}`);
  }
  return date;
}

/**
 * Format a date as RFC 3339 in UTC with millisecond precision, e.g. `2026-11-22T10:00:00.123Z`
 * (what `toISOString` writes for years 0000-9999).
 */
export function formatRfc3339(date: Date, field: string): string {
  const t = date.getTime();
  // Every job of a batch is stamped with (nearly) the same instant, and toISOString is slow:
  // the last result is reused as it is, and the last second with other milliseconds.
  if (t === formatted.time) return formatted.text;
  const ms = t - formatted.second;
  if (ms >= 0 && ms < 1000) {
    formatted.time = t;
    formatted.text = formatted.prefix + MS_Z[ms]!;
    return formatted.text;
  }
  const year = date.getUTCFullYear();
  if (Number.isNaN(t) || year < 0 || year > 9999) {
    throw new ValidationError(field, `must be a date between years 0000 and 9999 (got ${String(date)})`);
  }
  const text = date.toISOString();
  formatted.time = t;
  formatted.text = text;
  formatted.prefix = text.slice(0, 20);
  formatted.second = Math.floor(t / 1000) * 1000;
  return text;
}
