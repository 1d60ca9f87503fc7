/** Help texts of the program, a group and a command, made from the command definitions. */
import type { FlagSpecs } from './args.js';
import type { Command } from './command.js';
import { GLOBAL_FLAGS } from './config.js';
import { EXIT_HELP } from './exit.js';

function flagLines(flags: FlagSpecs): string[] {
  const rows = Object.entries(flags).map(([name, s]) => {
    const left = `${s.short ? `-${s.short}, ` : ''}--${name}${s.type === 'string' ? ` ${s.value ?? 'VALUE'}` : ''}${s.multiple ? ' …' : ''}`;
    return [left, s.description] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, d]) => `  ${l.padEnd(width)}  ${d}`);
}

function commandLines(commands: readonly Command[]): string[] {
  const width = Math.max(...commands.map((c) => c.name.length));
  return commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
}

/** Help of the program (`jobbus --help`). */
export function programHelp(commands: readonly Command[]): string {
  return [
    'jobbus: operate jobbus queues on Kafka, NATS JetStream or in memory.',
    '',
    'Usage: jobbus <command> [arguments] [flags]',
    '',
    'Commands:',
    ...commandLines(commands),
    '',
    'Global flags (every command):',
    ...flagLines(GLOBAL_FLAGS),
    '',
    'Configuration: flags win over environment variables, which win over the config file',
    '(--config FILE or JOBBUS_CONFIG; YAML with a top-level `jobs:` mapping, see the README).',
    '',
    EXIT_HELP,
    '',
    'Run `jobbus <command> --help` for the flags of a command.',
  ].join('\n');
}

/** Help of a command or group; `path` is how it was reached (`dlq list`). */
export function commandHelp(command: Command, path: string): string {
  const lines = [`Usage: jobbus ${path.split(' ').slice(0, -1).concat(command.usage).join(' ')}`, '', command.summary];
  if (command.details) lines.push('', command.details);
  if (command.subcommands) lines.push('', 'Subcommands:', ...commandLines(command.subcommands), '', `Run \`jobbus ${path} <subcommand> --help\` for its flags.`);
  if (command.flags && Object.keys(command.flags).length > 0) lines.push('', 'Flags:', ...flagLines(command.flags));
  if (!command.subcommands) lines.push('', 'Global flags:', ...flagLines(GLOBAL_FLAGS), '', EXIT_HELP);
  return lines.join('\n');
}
