/**
 * The jobs conformance suite (src/testing/conformance.ts) bound to vitest: every bus's
 * conformance test file calls `runConformance(target)`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runConformance as run, type ConformanceTarget, type ConformanceTestApi } from '../../src/testing/conformance.js';

export type { ConformanceTarget };

/** Run the conformance suite against `target` under vitest. */
export function runConformance(target: ConformanceTarget): void {
  run(target, { describe, it, afterEach, expect: expect as unknown as ConformanceTestApi['expect'] });
}
