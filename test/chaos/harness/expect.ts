/** Vitest side of the chaos harness. */
import { afterAll, beforeAll, expect } from 'vitest';
import type { ScenarioResult } from './drive.js';
import { ownTarget, type OwnTarget } from './own-target.js';
import { formatTable } from './report.js';
import type { ChaosTarget } from './target.js';

/** In a describe: an own broker of `kind` for its tests (started before them, destroyed after); returns a getter. */
export function useOwnTarget(kind: 'kafka' | 'nats', o: { proxied?: boolean } = {}): () => OwnTarget {
  let own: OwnTarget | undefined;
  beforeAll(async () => {
    own = await ownTarget(kind, o);
  }, 120_000);
  afterAll(() => own?.close());
  return () => {
    if (!own) throw new Error(`the own ${kind} broker did not start (see beforeAll)`);
    return own;
  };
}

/**
 * The buses a chaos test file runs on: env `JOBBUS_CHAOS_BUSES` (comma-separated, e.g. `kafka`
 * for the `chaos-platformatic` project), default both.
 */
export function chaosBuses(): ('kafka' | 'nats')[] {
  const named = process.env.JOBBUS_CHAOS_BUSES?.split(',').map((b) => b.trim()).filter(Boolean);
  if (!named?.length) return ['kafka', 'nats'];
  for (const b of named) if (b !== 'kafka' && b !== 'nats') throw new Error(`JOBBUS_CHAOS_BUSES lists kafka and/or nats, not ${b}`);
  return named as ('kafka' | 'nats')[];
}

/** The chaos target of {@link useOwnTarget}'s broker. */
export const targetOf = (get: () => OwnTarget) => (): ChaosTarget => get().target;

/** Print the scenario's account and fail naming every check that failed. */
export function expectChecksPass(r: ScenarioResult): void {
  console.log(formatTable([r]));
  expect(r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`)).toEqual([]);
}
