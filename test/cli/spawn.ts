/**
 * Running the `jobbus` command as a user does: a child process of `node --import tsx
 * src/cli/main.ts` (the sources; the package test runs the built bin), with an environment of
 * our choosing (no JOBBUS_* leaks in from the test run, except the log level).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** The fixture modules' folder. */
export const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** What a finished command did. */
export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time, ms. */
  readonly ms: number;
}

function envOf(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('JOBBUS_')) env[k] = v;
  return { ...env, JOBBUS_LOG_LEVEL: 'error', ...extra };
}

/** A running `jobbus` process with its output so far. */
export interface Running {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout or stderr matches `pattern` (rejects when the process exits first or after `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with the result when the process exits. */
  exited: Promise<Ran>;
}

/** Start `jobbus <args>`. */
export function startJobbus(args: readonly string[], env: Record<string, string> = {}, input?: string): Running {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, env: envOf(env) });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const poke = (): void => waiters.forEach((w) => w());
  child.stdout.on('data', (d: Buffer) => ((out += d.toString()), poke()));
  child.stderr.on('data', (d: Buffer) => ((err += d.toString()), poke()));
  if (input !== undefined) child.stdin.end(input);
  else child.stdin.end();
  const exited = new Promise<Ran>((resolve) => child.on('close', (code) => (resolve({ code, stdout: out, stderr: err, ms: Date.now() - started }), poke())));
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out waiting for ${pattern}\nstdout:\n${out}\nstderr:\n${err}`)), timeoutMs);
        const check = (): void => {
          if (pattern.test(out) || pattern.test(err)) finish();
          else if (done) finish(new Error(`exited before ${pattern}\nstdout:\n${out}\nstderr:\n${err}`));
        };
        function finish(e?: Error): void {
          clearTimeout(timer);
          waiters.delete(check);
          if (e) reject(e);
          else resolve();
        }
        waiters.add(check);
        check();
      });
    },
  };
}

/** Run `jobbus <args>` to the end. */
export function runJobbus(args: readonly string[], env: Record<string, string> = {}, input?: string): Promise<Ran> {
  return startJobbus(args, env, input).exited;
}

/** Run it and parse stdout as the one JSON document; fails with the output when it is not. */
export async function runJson<T = Record<string, unknown>>(args: readonly string[], env: Record<string, string> = {}): Promise<{ ran: Ran; json: T }> {
  const ran = await runJobbus([...args, '--json'], env);
  try {
    return { ran, json: JSON.parse(ran.stdout) as T };
  } catch {
    throw new Error(`jobbus ${args.join(' ')} --json: stdout is not one JSON document (exit ${ran.code})\nstdout:\n${ran.stdout}\nstderr:\n${ran.stderr}`);
  }
}
