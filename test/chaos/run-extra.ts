/**
 * Scenarios registered with the chaos runner (run.ts) beyond the worker, broker and network
 * faults: long and stuck handlers (6), poison and bad input (7), soak (8).
 */
import type { RunnableScenario } from './run.js';

/** Filled in as the scenarios land. */
export const extraScenarios: RunnableScenario[] = [];
