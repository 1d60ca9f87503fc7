/** A CliIo that records what a command writes, for running commands in process. */
import type { CliIo } from '../../src/cli/io.js';

/** The recorded terminal. */
export interface FakeIo extends CliIo {
  readonly stdout: string[];
  readonly stderr: string[];
  /** stdout joined. */
  text(): string;
  /** stderr joined. */
  errText(): string;
}

/** A fake terminal: `env` replaces the environment, `answers` are read by prompts in order. */
export function fakeIo(options: { env?: Record<string, string>; cwd?: string; tty?: boolean; answers?: string[] } = {}): FakeIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const answers = [...(options.answers ?? [])];
  return {
    stdout,
    stderr,
    out: (t) => void stdout.push(t),
    err: (t) => void stderr.push(t),
    status: (t) => void stderr.push(t),
    ask: async (q) => {
      stderr.push(q);
      return answers.shift() ?? '';
    },
    stdinIsTTY: options.tty ?? false,
    stderrIsTTY: options.tty ?? false,
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    flush: async () => undefined,
    text: () => stdout.join('\n'),
    errText: () => stderr.join('\n'),
  };
}
