/**
 * Processes, ports, pids, locks and progress for the broker setup: running commands,
 * starting and stopping JVMs, and the stderr lines that show a download or a wait is alive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** Where downloaded brokers are kept: JOBBUS_CACHE_DIR, else $XDG_CACHE_HOME/jobbus or ~/.cache/jobbus. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JOBBUS_CACHE_DIR) return env.JOBBUS_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'jobbus');
}

/** Resolve after `ms`; the setup polls processes and ports with it. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Progress lines on stderr, prefixed like every line of the broker setup. */
export const stderrLog = (msg: string): void => void process.stderr.write(`[jobbus brokers] ${msg}\n`);

/** `ms` as seconds for progress lines, e.g. "12.3 s". */
export const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** `bytes` as megabytes for progress lines, e.g. "41.7 MB". */
export const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/**
 * Calls `report(elapsedMs)` every `everyMs` until the returned function is called, so a long
 * download or wait never looks hung. The timer is unref'd: it never keeps the process alive.
 */
export function heartbeat(everyMs: number, report: (elapsedMs: number) => void): () => void {
  const t0 = Date.now();
  const timer = setInterval(() => report(Date.now() - t0), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The last `lines` non-empty lines of a log file, for error messages. */
export function tail(file: string, lines = 25): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').filter((l) => l.trim() !== '').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** What {@link run} returns. */
export interface RunResult {
  code: number | null;
  output: string;
}

/** Options of {@link run}. */
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Sees stdout and stderr as they come (e.g. to report a download's progress). */
  onOutput?: (chunk: string) => void;
}

/** Runs a command to completion, collecting stdout+stderr. Never throws for a non-zero exit. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    let output = '';
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      resolve({ code: -1, output: String(err) });
      return;
    }
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          output += `\n(timed out after ${opts.timeoutMs} ms)`;
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    const collect = (d: Buffer): void => {
      const text = d.toString();
      output += text;
      opts.onOutput?.(text);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      resolve({ code: -1, output: output + String(err) });
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A port another process took between our check and the JVM binding it. */
export const PORT_TAKEN = /BindException|Address already in use|seems to be in use/;

/** True when nothing listens on 127.0.0.1:`port`. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** `port` if it is free, else any free port. */
export async function preferredPort(port: number): Promise<number> {
  return (await portFree(port)) ? port : freePort();
}

/** True while a process with this pid exists (also when it belongs to another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when `pid` is alive and its command line contains `marker` (guards against pid reuse). */
export function isProcess(pid: number, marker: string): boolean {
  if (!pidAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return true; // no /proc (macOS): trust the pid
  }
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
export async function killProcess(pid: number, graceMs = 5000): Promise<void> {
  if (!pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return;
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && pidAlive(pid); i++) await sleep(20);
}

/** The pid in a pid file, if it holds one. */
export function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Rejects with "no answer within <ms> ms" when `p` does not settle in time. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]);
}

/** An error's message with its causes, for one-line reports. */
export function errText(err: unknown): string {
  if (err instanceof AggregateError) return err.errors.map(errText).join('; ') || err.message;
  if (err instanceof Error) {
    const msg = err.message || err.name;
    return err.cause instanceof Error && !msg.includes(err.cause.message) ? `${msg} (${errText(err.cause)})` : msg;
  }
  return String(err);
}
