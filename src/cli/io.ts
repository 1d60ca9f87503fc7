/**
 * Where the command writes and reads: results on stdout (a table, or one JSON document with
 * `--json`), everything else (messages, progress, prompts) on stderr. Injected, so tests can
 * run commands in process.
 */
import { createInterface } from 'node:readline';

/** The command's terminal. */
export interface CliIo {
  /** Write a result line (or document) to stdout. */
  out(text: string): void;
  /** Write a message line to stderr. */
  err(text: string): void;
  /** Overwrite the current stderr line (progress); `done` ends it with a newline. */
  status(text: string, done?: boolean): void;
  /** Ask on stderr and read one line from stdin. */
  ask(question: string): Promise<string>;
  readonly stdinIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Resolves once everything written has been handed to the OS. */
  flush(): Promise<void>;
}

/** The process's own terminal. */
export function processIo(): CliIo {
  const write = (stream: NodeJS.WriteStream, text: string): void => void stream.write(text);
  return {
    out: (text) => write(process.stdout, `${text}\n`),
    err: (text) => write(process.stderr, `${text}\n`),
    status: (text, done) => write(process.stderr, process.stderr.isTTY ? `\r\x1b[2K${text}${done ? '\n' : ''}` : `${text}\n`),
    ask(question) {
      const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY === true });
      return new Promise<string>((resolve) => {
        rl.question(question, (answer) => {
          rl.close();
          resolve(answer);
        });
        rl.once('close', () => resolve(''));
      });
    },
    stdinIsTTY: process.stdin.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    env: process.env,
    cwd: process.cwd(),
    async flush() {
      // An empty write's callback runs once everything written before it was handed to the OS.
      await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => void s.write('', () => resolve()))));
    },
  };
}
