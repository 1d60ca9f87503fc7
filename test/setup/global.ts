/**
 * vitest globalSetup of the `integration` project.
 *
 * Makes Kafka, the schema registry, NATS, Redis and PostgreSQL available (see brokers.ts),
 * then publishes their addresses two ways:
 * - as JOBBUS_* variables in process.env, which the forked test workers inherit;
 * - through `project.provide('jobbusBrokers', ...)` for `inject()`.
 * test/setup/env.ts reads either. The teardown stops only what this setup started.
 *
 * Reuses the Kafka/registry of a live `npm run brokers:up` (.brokers/env) and honours
 * JOBBUS_* variables already set (then the service is only checked, never started).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node';
import { BROKERS_DIR, describe, ensureAll, pruneStaleRuns, readUpState, type Brokers } from './brokers.js';
import './env.js'; // ProvidedContext typing

function say(msg: string): void {
  process.stderr.write(`[jobbus brokers] ${msg}\n`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = Date.now();
  const runsDir = path.join(BROKERS_DIR, 'runs');
  await pruneStaleRuns(runsDir);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const runDir = path.join(runsDir, `${stamp}-${process.pid}`);
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, 'owner.pid'), `${process.pid}\n`);

  const reuse = readUpState();
  let brokers: Brokers;
  try {
    brokers = await ensureAll({ runDir, reuse, log: say });
  } catch (err) {
    say(`setup failed after ${((Date.now() - t0) / 1000).toFixed(1)} s; logs kept in ${runDir}`);
    throw err;
  }
  say(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${describe(brokers)}`);

  const previous: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(brokers.env)) {
    previous[name] = process.env[name];
    process.env[name] = value;
  }
  project.provide('jobbusBrokers', brokers.env);

  return async () => {
    const t1 = Date.now();
    await brokers.stop();
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    if (!process.env.JOBBUS_KEEP_BROKER_LOGS) fs.rmSync(runDir, { recursive: true, force: true });
    const started = Object.values(brokers.services).filter((s) => s.origin === 'started');
    if (started.length > 0) say(`stopped ${started.map((s) => s.name).join(', ')} in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  };
}
