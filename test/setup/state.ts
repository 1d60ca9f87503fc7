/**
 * What outlives one process in .brokers/: the env file and pid files of `npm run brokers:up`,
 * and the run dirs of test runs (pruned once their owner is gone).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BROKERS_DIR, ENV, type ServiceName } from './config.js';
import { isProcess, killProcess, pidAlive, readPid } from './process.js';

/** `export JOBBUS_*=…` lines written by `npm run brokers:up`. */
export const UP_ENV_FILE = path.join(BROKERS_DIR, 'env');
/** Pid files of the JVMs `npm run brokers:up` started, with a command-line marker against pid reuse. */
export const UP_PIDS: Record<'kafka' | 'registry', { file: string; marker: string }> = {
  kafka: { file: path.join(BROKERS_DIR, 'kafka.pid'), marker: 'kafka.Kafka' },
  registry: { file: path.join(BROKERS_DIR, 'registry.pid'), marker: 'apicurio' },
};

/** Parses `export NAME=value` lines. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!.trim();
    if ((value.startsWith("'") && value.endsWith("'")) || (value.startsWith('"') && value.endsWith('"'))) value = value.slice(1, -1);
    out[m[1]!] = value;
  }
  return out;
}

/** Addresses of Kafka/registry from a live `npm run brokers:up`, if any. */
export function readUpState(): Partial<Record<ServiceName, string>> {
  if (!fs.existsSync(UP_ENV_FILE)) return {};
  const vars = parseEnvFile(fs.readFileSync(UP_ENV_FILE, 'utf8'));
  const out: Partial<Record<ServiceName, string>> = {};
  for (const name of ['kafka', 'registry'] as const) {
    const pid = readPid(UP_PIDS[name].file);
    const value = vars[ENV[name]];
    if (pid && value && isProcess(pid, UP_PIDS[name].marker)) out[name] = value;
  }
  return out;
}

/**
 * Removes run dirs of earlier test runs whose owner process is gone, killing any JVM they
 * left behind (a test run that was killed with SIGKILL cannot clean up after itself).
 */
export async function pruneStaleRuns(runsDir: string): Promise<void> {
  let entries: string[];
  try {
    entries = fs.readdirSync(runsDir);
  } catch {
    return;
  }
  await Promise.all(
    entries.map(async (name) => {
      const dir = path.join(runsDir, name);
      const owner = readPid(path.join(dir, 'owner.pid'));
      if (owner && pidAlive(owner)) return;
      for (const sub of ['kafka', 'registry']) {
        const pid = readPid(path.join(dir, `${sub}.pid`));
        if (pid && isProcess(pid, `-Djobbus.run=${dir}`)) await killProcess(pid, 3000);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }),
  );
}
