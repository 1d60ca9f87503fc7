/**
 * Worker child processes for the chaos scenarios: start one (worker-process.ts under tsx),
 * wait until it consumes, crash it with SIGKILL, or stop it gracefully.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CONFIG_ENV, READY_LINE, type WorkerProcessConfig } from './worker-config.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A running worker process. */
export interface WorkerProcess {
  readonly pid: number;
  /** When spawn was called, epoch ms. */
  readonly spawnedAt: number;
  /** Resolves with the epoch ms at which the worker printed its ready line. */
  readonly ready: Promise<number>;
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>;
  /** The last few KB the process wrote to stderr (for failure messages). */
  stderr(): string;
  /** Still running (not exited, not killed). */
  alive(): boolean;
  /** Ended by SIGKILL (a crash, or a stop that outlived its grace): it may have died between a settle and its ledger record. */
  killed(): boolean;
  /** SIGKILL: a real crash, no cleanup of any kind in the child. */
  crash(): Promise<void>;
  /** SIGTERM (graceful stop), then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Every process started here, so a failing test can still kill them all (by pid). */
const live = new Set<ChildProcess>();

/** Start a worker process with `config`. */
export function startWorkerProcess(config: WorkerProcessConfig, readyTimeoutMs = 30_000): WorkerProcess {
  const spawnedAt = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT], {
    cwd: REPO_ROOT,
    env: { ...process.env, [CONFIG_ENV]: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-8_192);
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
  });
  const ready = new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`worker ${child.pid} not ready after ${readyTimeoutMs} ms: ${err}`)), readyTimeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(READY_LINE)) {
        clearTimeout(timer);
        resolve(Date.now());
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`worker ${child.pid} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready: ${err}`));
    });
  });
  ready.catch(() => undefined); // observed by the caller when it cares
  if (child.pid === undefined) throw new Error('could not spawn the worker process');
  return {
    pid: child.pid,
    spawnedAt,
    ready,
    exited,
    stderr: () => err,
    alive: () => child.exitCode === null && child.signalCode === null,
    killed: () => child.signalCode === 'SIGKILL',
    async crash() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** SIGKILL every worker process started here that is still running (test teardown). */
export async function killAllWorkers(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const child of live) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    waits.push(new Promise((r) => child.once('exit', r)));
    child.kill('SIGKILL');
  }
  await Promise.all(waits);
}
