/** What a command of the `jobbus` program is, and what it gets when it runs. */
import type { Jobbus } from '../jobbus.js';
import type { FlagSpecs, ParsedArgs } from './args.js';
import type { CliConfig } from './config-schema.js';
import type { CliIo } from './io.js';

/** Options of {@link CommandContext.open}. */
export interface OpenOptions {
  /** For a worker process: also the settings only workers use (prefetch, ack timeout, status observer). */
  readonly worker?: boolean;
}

/** What a command's `run` receives. */
export interface CommandContext {
  /** Its flags (the global ones included) and positionals. */
  readonly args: ParsedArgs;
  readonly io: CliIo;
  /** `--json` was given. */
  readonly json: boolean;
  /** The configuration (flags > environment > file), read on first call. */
  config(): CliConfig;
  /** The jobbus instance on the configured bus, reachable within the connect timeout (else exit 3); closed after `run`. */
  open(options?: OpenOptions): Promise<Jobbus>;
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
}

/** A command or a group of subcommands. */
export interface Command {
  readonly name: string;
  /** One line for the list of commands. */
  readonly summary: string;
  /** Usage line without the program name, e.g. `enqueue <queue> <name> [flags]`. */
  readonly usage: string;
  /** More help text (examples, notes). */
  readonly details?: string;
  /** Its own flags (the global ones are added). */
  readonly flags?: FlagSpecs;
  /** How many positionals it takes. */
  readonly positionals?: { readonly min: number; readonly max?: number; readonly names: string };
  /** Subcommands of a group (`dlq list`). */
  readonly subcommands?: readonly Command[];
  /** Run it; resolves with the exit code. */
  run?(ctx: CommandContext): Promise<number>;
}
