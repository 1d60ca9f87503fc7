/**
 * Process helpers of the packed-package test: run npm, node and tsc the way a user's shell
 * would, capture their output, and time them.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** What a finished command printed, and how long it took. */
export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Options of {@link run}. */
export interface RunOptions {
  readonly cwd: string;
  /** Kill the command after this long; default 120 s. */
  readonly timeoutMs?: number;
}

/**
 * The environment of a user's shell: without what `npm test` put into ours (lifecycle and
 * package variables, a `--silent` log level that would hide the warnings this test looks for).
 * The npm cache and the user's npm config stay, so installs share the warm cache.
 */
export function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const k = key.toLowerCase();
    const npmRun = k.startsWith('npm_') && !k.startsWith('npm_config_');
    if (npmRun || k === 'init_cwd' || k === 'npm_config_local_prefix' || k === 'npm_config_loglevel') continue;
    env[key] = value;
  }
  env.npm_config_loglevel = 'warn';
  env.npm_config_update_notifier = 'false';
  return env;
}

/** Run a command to its end (never throws on a non-zero exit; the caller asserts). */
export function run(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** A command's output for an assertion message. */
export function describeRun(what: string, r: RunResult): string {
  return `${what}: exit ${r.code} after ${r.ms} ms\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** `npm install <spec>` into a new scratch project (an ESM package) at `dir`. */
export async function installInto(dir: string, spec: string): Promise<RunResult> {
  fs.mkdirSync(dir, { recursive: true });
  const pkg = { name: `scratch-${path.basename(dir)}`, version: '0.0.0', private: true, type: 'module' };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  // --prefer-offline: the cache is warm from the repo's own install; revalidating every
  // packument would make the test depend on the registry's latency.
  return run('npm', ['install', spec, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, timeoutMs: 150_000 });
}
