#!/usr/bin/env node
/**
 * The `jobbus` command (package `bin`): finds the command (and subcommand) in the arguments,
 * parses its flags, runs it with a lazily opened jobbus, closes that, and exits with a code
 * of exit.ts. Not part of the library's import graph (nothing in src/index.ts imports src/cli).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../errors.js';
import { booleanFlag, parseArgv } from './args.js';
import type { Command, CommandContext } from './command.js';
import { dlqCommand } from './commands/dlq.js';
import { enqueueCommand } from './commands/enqueue.js';
import { pauseCommands, queuesCommand } from './commands/queues.js';
import { schedulerCommand } from './commands/scheduler.js';
import { statusCommand } from './commands/status.js';
import { workerCommand } from './commands/worker.js';
import { GLOBAL_FLAGS, loadConfig } from './config.js';
import type { CliConfig } from './config-schema.js';
import { openJobbus, withDeadline, type Opened } from './connect.js';
import { EXIT, exitCodeOf, messageOf } from './exit.js';
import { commandHelp, programHelp } from './help.js';
import { processIo, type CliIo } from './io.js';
import { didYouMean } from './suggest.js';

/** Every command, in the order of the help. */
export const COMMANDS: readonly Command[] = [enqueueCommand, workerCommand, dlqCommand, queuesCommand, ...pauseCommands, statusCommand, schedulerCommand];

/** Longest wait for closing the connections after a command, ms. */
const CLOSE_TIMEOUT_MS = 10_000;

interface Resolved {
  readonly command: Command | undefined;
  readonly path: readonly string[];
  readonly rest: readonly string[];
}

/** Find the command path in `argv`: words before any positional, skipping global flags (and their values). */
function resolveCommand(argv: readonly string[]): Resolved {
  const rest = [...argv];
  const path: string[] = [];
  let level: readonly Command[] = COMMANDS;
  let command: Command | undefined;
  for (let i = 0; i < rest.length; ) {
    const token = rest[i]!;
    if (token === '--') break;
    if (token.startsWith('-')) {
      const spec = GLOBAL_FLAGS[token.replace(/^--?/, '')];
      i += spec?.type === 'string' && !token.includes('=') ? 2 : 1;
      continue;
    }
    const found = level.find((c) => c.name === token);
    if (!found) {
      if (command && !command.subcommands) break; // a positional of the command
      const what = command ? `subcommand of "${path.join(' ')}"` : 'command';
      throw new InvalidArgumentError(`unknown ${what} "${token}"${didYouMean(token, level.map((c) => c.name))} (see jobbus ${path.join(' ')}${path.length ? ' ' : ''}--help)`);
    }
    rest.splice(i, 1);
    path.push(found.name);
    command = found;
    if (!found.subcommands) break;
    level = found.subcommands;
  }
  return { command, path, rest };
}

/** How the process's signals reach a command. */
export interface RunSignals {
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal?: AbortSignal;
  /** Called when the command reads the signal (it stops gracefully); otherwise a signal ends the process at once. */
  readonly onListen?: () => void;
}

/** Run the program with `argv` (without node and the script); resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo, signals: RunSignals = {}): Promise<number> {
  const signal = signals.signal ?? new AbortController().signal;
  let opened: Opened | undefined;
  try {
    const words = argv[0] === 'help' ? [...argv.slice(1), '--help'] : argv;
    const { command, path, rest } = resolveCommand(words);
    const wantsHelp = rest.includes('--help') || rest.includes('-h');
    if (!command || command.subcommands || !command.run) {
      const text = command ? commandHelp(command, path.join(' ')) : programHelp(COMMANDS);
      if (wantsHelp) {
        io.out(text);
        return EXIT.ok;
      }
      io.err(text);
      io.err(`\njobbus: error: ${command ? `missing subcommand of "${path.join(' ')}"` : 'missing command'}`);
      return EXIT.usage;
    }
    const args = parseArgv(rest, { ...GLOBAL_FLAGS, ...command.flags });
    if (booleanFlag(args, 'help')) {
      io.out(commandHelp(command, path.join(' ')));
      return EXIT.ok;
    }
    const { min, max, names } = command.positionals ?? { min: 0, max: 0, names: '' };
    const count = args.positionals.length;
    if (count < min || (max !== undefined && count > max)) {
      const extra = max !== undefined && count > max ? `unexpected argument "${args.positionals[max]}"` : `missing ${names.split(' ').slice(count).join(' ')}`;
      throw new InvalidArgumentError(`${extra}; usage: jobbus ${path.slice(0, -1).concat(command.usage).join(' ')}`);
    }
    let config: CliConfig | undefined;
    const ctx: CommandContext = {
      args,
      io,
      json: booleanFlag(args, 'json'),
      get signal() {
        signals.onListen?.();
        return signal;
      },
      config: () => (config ??= loadConfig({ args, env: io.env, cwd: io.cwd })),
      async open(options) {
        opened ??= await openJobbus(ctx.config(), options?.worker ?? false);
        return opened.jobs;
      },
    };
    return await command.run(ctx);
  } catch (err) {
    const code = exitCodeOf(err);
    const hint = code === EXIT.usage && !/--help/.test(messageOf(err)) ? ' (see --help)' : '';
    io.err(`jobbus: error: ${messageOf(err)}${hint}`);
    return code;
  } finally {
    if (opened) {
      const closing = opened.close();
      await withDeadline(closing, CLOSE_TIMEOUT_MS, () => new Error('close timed out')).catch(() => undefined);
    }
  }
}

/** The process entry: signals abort the command (a second one exits at once), then exit with its code. */
async function main(): Promise<void> {
  const stop = new AbortController();
  let signals = 0;
  let graceful = false;
  const onSignal = (name: NodeJS.Signals): void => {
    if (++signals > 1 || !graceful) {
      process.stderr.write(`jobbus: ${name}: exiting now\n`);
      process.exit(130);
    }
    stop.abort(new Error(name));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const io = processIo();
  const code = await runCli(process.argv.slice(2), io, { signal: stop.signal, onListen: () => (graceful = true) });
  await io.flush();
  // Broker clients may keep timers or sockets; the command is done.
  process.exit(code);
}

function isEntry(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) void main();
