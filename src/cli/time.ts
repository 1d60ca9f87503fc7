/** Durations (`5s`, `1h30m`, `250ms`) and instants (ISO 8601, or a duration meaning "that long ago") of the command line. */
import { InvalidArgumentError } from '../errors.js';

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/;

/** `text` as milliseconds: one or more `<number><unit>` (units ms, s, m, h, d), e.g. `1h30m`. */
export function parseDuration(text: string, what: string): number {
  let rest = text.trim();
  let total = 0;
  if (rest === '') throw new InvalidArgumentError(`${what} must be a duration like 5s, 10m, 1h30m (got "${text}")`);
  while (rest !== '') {
    const m = DURATION.exec(rest);
    if (!m) throw new InvalidArgumentError(`${what} must be a duration like 5s, 10m, 1h30m (got "${text}")`);
    total += Number(m[1]) * UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}

/** An ISO 8601 instant (with a date), or a duration before `now` (`--since 1h`). */
export function parseInstant(text: string, what: string, now: number = Date.now()): Date {
  if (DURATION.test(text.trim()) && !/^\d{4}-/.test(text.trim())) return new Date(now - parseDuration(text, what));
  const date = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text.trim()) || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError(`${what} must be an ISO 8601 time (2026-11-28T15:00:00Z) or a duration ago (1h) (got "${text}")`);
  }
  return date;
}

/** `ms` for people: `850 ms`, `4.2 s`, `3 m 20 s`, `2 h 5 m`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const s = Math.round(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)} m ${s % 60} s`;
  return `${Math.floor(s / 3_600)} h ${Math.floor((s % 3_600) / 60)} m`;
}
