/** Output for people (aligned tables, short lines) and for scripts (one JSON document), and the progress line. */
import type { CliIo } from './io.js';

/** A column of {@link table}: its title, how to read it from a row, and its alignment. */
export interface Column<T> {
  readonly title: string;
  readonly value: (row: T) => string | number | undefined;
  readonly align?: 'left' | 'right';
}

/** Rows as an aligned text table with a header line; `-` for absent values. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => {
    const v = c.value(row);
    return v === undefined || v === '' ? '-' : String(v).replace(/\s+/g, ' ');
  }));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: readonly string[]): string =>
    values
      .map((v, i) => (columns[i]!.align === 'right' ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), ...cells.map(line)].join('\n');
}

/** Write `value` as the one JSON document on stdout (dates as ISO strings, bytes as base64). */
export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v), 2));
}

/** An ISO time, or `-`. */
export function iso(date: Date | undefined): string {
  return date ? date.toISOString() : '-';
}

/** `text` cut to `max` characters with an ellipsis. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Progress of a long replay or purge. */
export interface Progress {
  /** Report `done` of `total`; written at most every 200 ms (and always the last). */
  update(p: { readonly done: number; readonly total: number }): void;
  /** End the line. */
  end(): void;
}

/**
 * A progress line on stderr (`replaying 40/100 (40 %)`) when `enabled` (stderr is a TTY, or
 * `--progress`); otherwise nothing. Never on stdout.
 */
export function progressLine(io: CliIo, verb: string, enabled: boolean): Progress {
  let last = 0;
  let shown: string | undefined;
  let pending: string | undefined;
  return {
    update({ done, total }) {
      if (!enabled) return;
      const pct = total > 0 ? ` (${Math.floor((done / total) * 100)} %)` : '';
      pending = `${verb} ${done}/${total}${pct}`;
      const now = Date.now();
      if (now - last >= 200 || done >= total) {
        last = now;
        io.status(pending);
        shown = pending;
      }
    },
    end() {
      if (!enabled || pending === undefined) return;
      if (pending !== shown || io.stderrIsTTY) io.status(pending, true);
    },
  };
}
