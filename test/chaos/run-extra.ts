/**
 * Scenarios registered with the chaos runner (run.ts) beyond the worker, broker and network
 * faults: long and stuck handlers (6), poison and bad input with a bus fuzz (7), soak (8).
 */
import { spread } from './harness/account.js';
import type { Check, ScenarioResult } from './harness/drive.js';
import type { RunnableScenario } from './run.js';
import { runPoisonScenario, type PoisonReport, type PoisonTarget } from './scenarios/poison.js';
import { runBusFuzz, type FuzzReport } from './scenarios/poison-fuzz.js';
import type { Size } from './scenarios/sizes.js';
import { soak } from './scenarios/soak.js';
import { stuckHandler } from './scenarios/stuck-handler.js';

/** Scenario 7 as a runner result: the poison account, and the bus fuzz's checks beside it. */
function poisonResult(p: PoisonReport, f: FuzzReport, ms: number): ScenarioResult {
  const checks: Check[] = [
    { name: 'lost = 0', ok: p.lost === 0, detail: `good never run: ${p.lostGood.slice(0, 5).join(' ')}; bad not in the DLQ: ${p.lostBad.slice(0, 5).join(' ')}` },
    { name: 'early = 0', ok: p.early === 0, detail: `${p.early} early` },
    { name: 'duplicates = 0', ok: p.duplicates === 0, detail: `${p.duplicates}` },
    { name: 'every DLQ reason is decode: …', ok: p.badReasons.length === 0, detail: p.badReasons.slice(0, 3).join('; ') },
    { name: 'no bad message ran', ok: p.unexpectedRuns.length === 0, detail: p.unexpectedRuns.slice(0, 3).join('; ') },
    { name: 'oversized jobs refused, never stored', ok: p.refusalProblems.length === 0, detail: p.refusalProblems.slice(0, 3).join('; ') },
    { name: 'fuzz: every message handled or dead-lettered', ok: f.lost.length === 0, detail: `${f.lost.length} lost (seed ${f.seed})` },
    { name: 'fuzz: no uncaught error', ok: f.uncaught.length === 0, detail: f.uncaught.slice(0, 3).join('; ') },
  ];
  return {
    scenario: '7 poison and bad input',
    bus: p.target,
    account: {
      enqueued: p.good + p.bad,
      completed: p.completed,
      completedAtKill: 0,
      deadLettered: p.deadLettered,
      lost: p.lost,
      early: p.early,
      duplicates: p.duplicates,
      duplicateBound: 0,
      executions: p.completed + p.duplicates,
      wrongOutcome: p.unexpectedRuns.length,
      lateness: spread([p.stallMs]),
      samples: { lost: [...p.lostGood, ...p.lostBad].slice(0, 5), early: [], unexplainedDuplicates: [], wrongOutcome: p.unexpectedRuns.slice(0, 5) },
    },
    figures: {
      good: p.good,
      bad: p.bad,
      refusedAtEnqueue: p.refusedAtEnqueue,
      refusedByBroker: p.refusedByBroker,
      stallMs: p.stallMs,
      fuzzMessages: f.published,
      fuzzHandled: f.handled,
      fuzzDeadLettered: f.deadLettered,
      fuzzLost: f.lost.length,
      fuzzSettleMs: f.settleMs,
    },
    checks,
    ms,
  };
}

/** Run scenario 7 (and its bus fuzz: 5,000 random messages full, 500 short) on `target`. */
export async function poisonAndFuzz(target: PoisonTarget, size: Size): Promise<ScenarioResult> {
  const started = Date.now();
  const p = await runPoisonScenario(target, size);
  // Dead-lettering on Kafka runs at about 150 poison messages/s: give 5,000 two minutes.
  const f = await runBusFuzz(target, size === 'full' ? 5_000 : 500, undefined, size === 'full' ? 120_000 : 30_000);
  return poisonResult(p, f, Date.now() - started);
}

const both = ['kafka', 'nats'] as const;

/** Registered with the runner. */
export const extraScenarios: RunnableScenario[] = [
  { id: 6, buses: both, run: (own, size) => stuckHandler(own!.target, size) },
  {
    id: 7,
    buses: ['memory', ...both],
    run: (own, size, o) =>
      poisonAndFuzz(o.kind === 'memory' ? { kind: 'memory' } : o.kind === 'kafka' ? { kind: 'kafka', brokers: [own!.broker.address] } : { kind: 'nats', servers: `nats://${own!.broker.address}` }, size),
  },
  { id: 8, buses: both, run: (own, size) => soak(own!.target, size) },
];
