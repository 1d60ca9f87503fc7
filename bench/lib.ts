/**
 * What every benchmark here shares, so they have one shape: settings from the environment
 * (one `BENCH_REPS` for repetitions), median and percentile, poll-until, progress lines on
 * stderr, the table and the last line `RESULT {json}` on stdout, and `runMain(main)`.
 */

/** An integer setting from the environment, or `fallback` when unset. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`bench: ${name}=${raw} is not a number`);
  return n;
}

/** How many times each scenario repeats (BENCH_REPS, default 3); figures are their medians. */
export function benchReps(): number {
  // bench:nats called it BENCH_RUNS once: say so instead of ignoring it silently.
  if (process.env.BENCH_RUNS !== undefined) throw new Error('bench: BENCH_RUNS is now BENCH_REPS (one name for every benchmark)');
  return envNumber('BENCH_REPS', 3);
}

/** The middle value (the upper one of an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The nearest-rank `p`th percentile; NaN for no values. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** `x` rounded to `digits` decimals. */
export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Resolve once `check()` holds, polling every `everyMs` (2 ms: a clock stopped by the check
 * must not lag by much); reject naming `what` after `timeoutMs`.
 */
export function until(check: () => boolean, timeoutMs: number, what: string, everyMs = 2): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (check()) resolve();
      else if (Date.now() > deadline) reject(new Error(`bench: timed out waiting for ${what}`));
      else setTimeout(tick, everyMs);
    };
    tick();
  });
}

/** A progress logger writing `[<name>] message` lines to stderr (stdout holds the results). */
export function progress(name: string): (msg: string) => void {
  return (msg) => void process.stderr.write(`[${name}] ${msg}\n`);
}

/** Print `title`, then `rows` under `header`: the first column left-aligned, the others right-aligned. */
export function printTable(title: string, header: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  console.log(title);
  for (const r of cells) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
}

/** The last line of every benchmark: `RESULT {json}`, for scripts that compare runs. */
export function printResult(result: unknown): void {
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/**
 * Run a benchmark's `main` and exit: 0 when it resolves (client libraries may hold sockets
 * open), 1 with the error when it rejects. `exit: false` leaves a long-lived process running.
 */
export function runMain(main: () => Promise<void>, { exit = true } = {}): void {
  main().then(
    () => {
      if (exit) process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
