/**
 * The DLQ tools' input: filters, list and replay options checked (a ValidationError naming the
 * field), entry matching, the newest-first order and the paging cursor.
 */
import { ValidationError } from '../errors.js';
import type { DLQEntry, DLQFilter, DLQListOptions, DLQProgress, DLQReplayOptions } from '../jobs/types.js';

/** A checked {@link DLQFilter}. */
export interface CheckedFilter {
  readonly ids?: ReadonlySet<string>;
  readonly names?: ReadonlySet<string>;
  readonly reason?: string;
  readonly since?: number;
  readonly until?: number;
}

/** A position in the newest-first order: after the entry failed at `t` with id `e`. */
export interface Cursor {
  readonly t: number;
  readonly e: string;
}

/** Default page size of a listing. */
export const DEFAULT_PAGE = 50;

function strings(value: unknown, field: string): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new ValidationError(field, 'must be an array of strings');
  return new Set(value as string[]);
}

function time(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new ValidationError(field, 'must be a valid Date');
  return value.getTime();
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ValidationError(field, 'must be an object');
  return value as Record<string, unknown>;
}

/** `selection` checked; throws a ValidationError naming the offending field. */
export function checkFilter(selection: DLQFilter | undefined, field = 'selection'): CheckedFilter {
  const s = object(selection, field);
  const reason = s.reason;
  if (reason !== undefined && typeof reason !== 'string') throw new ValidationError('reason', 'must be a string');
  const since = time(s.since, 'since');
  const until = time(s.until, 'until');
  if (since !== undefined && until !== undefined && since > until) throw new ValidationError('until', 'must not be before since');
  const ids = strings(s.ids, 'ids');
  const names = strings(s.names, 'names');
  return {
    ...(ids && { ids }),
    ...(names && { names }),
    ...(reason !== undefined && { reason: reason.toLowerCase() }),
    ...(since !== undefined && { since }),
    ...(until !== undefined && { until }),
  };
}

/** True when `e` matches `f` (an id matches the entry id or the job id). */
export function matches(e: DLQEntry, f: CheckedFilter): boolean {
  if (f.ids && !f.ids.has(e.entryId) && !f.ids.has(e.job.id)) return false;
  if (f.names && !f.names.has(e.job.name)) return false;
  if (f.reason !== undefined && !e.reason.toLowerCase().includes(f.reason)) return false;
  const t = e.failedAt.getTime();
  if (f.since !== undefined && t < f.since) return false;
  if (f.until !== undefined && t > f.until) return false;
  return true;
}

/** Newest first: later failedAt first, then the greater entry id (a total order). */
export function newestFirst(a: DLQEntry, b: DLQEntry): number {
  return b.failedAt.getTime() - a.failedAt.getTime() || (a.entryId < b.entryId ? 1 : a.entryId > b.entryId ? -1 : 0);
}

/** The cursor continuing after `e`. */
export function cursorAfter(e: DLQEntry): string {
  return `${e.failedAt.getTime().toString(36)}.${e.entryId}`;
}

/** True when `e` comes after `c` in the newest-first order. */
export function isAfter(e: DLQEntry, c: Cursor): boolean {
  const t = e.failedAt.getTime();
  return t < c.t || (t === c.t && e.entryId < c.e);
}

function parseCursor(value: unknown): Cursor | undefined {
  if (value === undefined) return undefined;
  const m = typeof value === 'string' ? /^(-?[0-9a-z]{1,12})\.([0-9a-f]{1,64})$/.exec(value) : null;
  const t = m ? parseInt(m[1]!, 36) : NaN;
  if (!m || !Number.isSafeInteger(t)) throw new ValidationError('cursor', 'is not a cursor returned by list (nextCursor)');
  return { t, e: m[2]! };
}

/** {@link DLQListOptions} checked. */
export function checkListOptions(options: DLQListOptions | undefined): { filter: CheckedFilter; limit: number; cursor?: Cursor } {
  const o = object(options, 'options');
  const limit = o.limit ?? DEFAULT_PAGE;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw new ValidationError('limit', 'must be an integer >= 1');
  const cursor = parseCursor(o.cursor);
  return { filter: checkFilter(options, 'options'), limit, ...(cursor && { cursor }) };
}

/** {@link DLQReplayOptions} checked: the least milliseconds between two copies (0 = unlimited). */
export function checkReplayOptions(options: DLQReplayOptions | undefined): { spacingMs: number; onProgress?: (p: DLQProgress) => void; signal?: AbortSignal } {
  const o = object(options, 'options');
  const rate = o.ratePerSecond;
  if (rate !== undefined && (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0)) throw new ValidationError('ratePerSecond', 'must be a number > 0');
  const onProgress = checkProgress(o.onProgress);
  const signal = o.signal;
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof (signal as AbortSignal).aborted !== 'boolean')) {
    throw new ValidationError('signal', 'must be an AbortSignal');
  }
  return { spacingMs: rate === undefined ? 0 : 1_000 / rate, ...(onProgress && { onProgress }), ...(signal !== undefined && { signal: signal as AbortSignal }) };
}

/** An `onProgress` option checked. */
export function checkProgress(value: unknown): ((p: DLQProgress) => void) | undefined {
  if (value !== undefined && typeof value !== 'function') throw new ValidationError('onProgress', 'must be a function');
  return value as ((p: DLQProgress) => void) | undefined;
}
