/**
 * `npm run chaos`: every chaos scenario at full size, on a Kafka and a NATS broker of its own
 * (started here from the same Kafka jars and nats-server binary the suite uses, never the shared
 * services; the in-memory bus too where a scenario applies to it), with real worker processes
 * and the PostgreSQL ledger. Prints a table and, as the
 * last line, `RESULT {json}` (scenario -> bus -> lost, early, duplicates, duplicate_bound, ...).
 * Exits 1 when a scenario misses its bound.
 *
 *   npm run chaos [-- --bus memory,kafka,nats] [--only 1,3,5] [--size short|full] [--defaults]
 *
 * `--defaults`: scenario 5 with the product's default failure detection (30 s) instead of the
 * short one. Needs PostgreSQL (JOBBUS_PG_URL, default postgres://postgres@127.0.0.1:5432/test).
 */
import { parseArgs } from 'node:util';
import type { ScenarioResult } from './harness/drive.js';
import { killAllWorkers } from './harness/processes.js';
import { ownTarget, type OwnTarget } from './harness/own-target.js';
import { formatTable, resultJson } from './harness/report.js';
import { brokerOutage, networkFaults } from './scenarios/broker-faults.js';
import { crashDelayed } from './scenarios/crash-delayed.js';
import { rollingRestart } from './scenarios/rolling-restart.js';
import type { Size } from './scenarios/sizes.js';
import { workerCrash } from './scenarios/worker-crash.js';
import { extraScenarios } from './run-extra.js';

/** A bus the runner can run scenarios on. */
export type ChaosBus = 'memory' | 'kafka' | 'nats';

/** A scenario the runner knows: its number and how to run it on an own target (none for the memory bus). */
export interface RunnableScenario {
  readonly id: number;
  readonly buses: readonly ChaosBus[];
  run(own: OwnTarget | undefined, size: Size, o: { defaults: boolean; kind: ChaosBus }): Promise<ScenarioResult>;
}

const both = ['kafka', 'nats'] as const;
const scenarios: RunnableScenario[] = [
  { id: 1, buses: both, run: (own, size) => workerCrash(own!.target, size) },
  { id: 2, buses: both, run: (own, size) => rollingRestart(own!.target, size) },
  { id: 3, buses: both, run: (own, size) => brokerOutage(own!, size, 'kill') },
  { id: 3, buses: both, run: (own, size) => brokerOutage(own!, size, 'stop') },
  { id: 4, buses: both, run: (own, size) => networkFaults(own!, size) },
  { id: 5, buses: both, run: (own, size, o) => crashDelayed(own!.target, size, { defaults: o.defaults }) },
  ...extraScenarios,
];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      bus: { type: 'string', default: 'memory,kafka,nats' },
      only: { type: 'string' },
      size: { type: 'string', default: 'full' },
      defaults: { type: 'boolean', default: false },
    },
  });
  const size = values.size === 'short' ? 'short' : 'full';
  const only = values.only ? new Set(values.only.split(',').map(Number)) : undefined;
  process.env.JOBBUS_PG_URL ??= 'postgres://postgres@127.0.0.1:5432/test';
  process.env.JOBBUS_LOG_LEVEL ??= 'error';
  const results: ScenarioResult[] = [];
  for (const kind of values.bus.split(',') as ChaosBus[]) {
    const todo = scenarios.filter((s) => s.buses.includes(kind) && (!only || only.has(s.id)));
    if (todo.length === 0) continue;
    const t = Date.now();
    const own = kind === 'memory' ? undefined : await ownTarget(kind, { proxied: true });
    if (own) console.error(`[chaos] own ${kind} ready at ${own.broker.address} in ${Date.now() - t} ms`);
    try {
      for (const s of todo) {
        console.error(`[chaos] scenario ${s.id} on ${kind} (${size})`);
        try {
          const r = await s.run(own, size, { defaults: values.defaults, kind });
          results.push(r);
          console.error(formatTable([r]));
        } finally {
          await killAllWorkers();
        }
      }
    } finally {
      await own?.close();
    }
  }
  console.log(formatTable(results));
  console.log(`RESULT ${JSON.stringify(resultJson(results))}`);
  return results.every((r) => r.checks.every((c) => c.ok)) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    console.error(err);
    await killAllWorkers();
    process.exit(2);
  },
);
