/** Vitest side of the chaos harness. */
import { expect } from 'vitest';
import type { ScenarioResult } from './drive.js';
import { formatTable } from './report.js';

/** Print the scenario's account and fail naming every check that failed. */
export function expectChecksPass(r: ScenarioResult): void {
  console.log(formatTable([r]));
  expect(r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`)).toEqual([]);
}
