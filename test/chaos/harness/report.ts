/**
 * The chaos report: a table for people and, as the last line, `RESULT {json}` with each
 * scenario's figures per bus (keys lost, early, duplicates, duplicate_bound per scenario).
 */
import type { ScenarioResult } from './drive.js';

/** A scenario's key in the RESULT json: "1 worker crash" -> "worker_crash". */
export const scenarioKey = (scenario: string): string => scenario.replace(/^\d+\s+/, '').replace(/[^a-z0-9]+/gi, '_').toLowerCase();

/** Table rows, one per scenario and bus, plus the failed checks under it. */
export function formatTable(results: readonly ScenarioResult[]): string {
  const head = ['scenario', 'bus', 'enqueued', 'completed', 'dead', 'lost', 'early', 'dups', 'bound', 'p99 late ms', 'secs', 'ok'];
  const rows = results.map((r) => {
    const a = r.account;
    return [r.scenario, r.bus, a.enqueued, a.completed, a.deadLettered, a.lost, a.early, a.duplicates, a.duplicateBound, a.lateness.p99, Math.round(r.ms / 1000), r.checks.every((c) => c.ok) ? 'yes' : 'NO'].map(String);
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of results) {
    out.push(line(rows[results.indexOf(r)]!));
    const figures = Object.entries(r.figures).map(([k, v]) => `${k}=${v}`).join(' ');
    if (figures) out.push(`    ${figures}`);
    for (const c of r.checks.filter((x) => !x.ok)) out.push(`    FAILED ${c.name}: ${c.detail}`);
  }
  return out.join('\n');
}

/** The RESULT line's json: scenario -> bus -> figures. */
export function resultJson(results: readonly ScenarioResult[]): Record<string, Record<string, Record<string, number | string | boolean>>> {
  const out: Record<string, Record<string, Record<string, number | string | boolean>>> = {};
  for (const r of results) {
    const a = r.account;
    (out[scenarioKey(r.scenario)] ??= {})[r.bus] = {
      enqueued: a.enqueued,
      completed: a.completed,
      dead_lettered: a.deadLettered,
      lost: a.lost,
      early: a.early,
      duplicates: a.duplicates,
      duplicate_bound: a.duplicateBound,
      lateness_p99_ms: a.lateness.p99,
      ok: r.checks.every((c) => c.ok),
      ...r.figures,
    };
  }
  return out;
}
