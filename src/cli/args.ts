/**
 * The command line parser: `--flag value`, `--flag=value`, boolean `--flag`, short `-h`,
 * repeatable flags, `--` ending the flags, and positionals anywhere. An unknown flag is a usage
 * error with the closest known flag suggested.
 */
import { InvalidArgumentError } from '../errors.js';
import { didYouMean } from './suggest.js';

/** One flag a command takes. */
export interface FlagSpec {
  /** `string` takes a value; `boolean` does not. */
  readonly type: 'string' | 'boolean';
  /** May be given several times (string flags; the values are collected in order). */
  readonly multiple?: boolean;
  /** One-letter alias, e.g. `h` for `-h`. */
  readonly short?: string;
  /** Placeholder of the value in the help, e.g. `N`. */
  readonly value?: string;
  /** One line for the help. */
  readonly description: string;
}

/** Flags by name (without the dashes, kebab-case). */
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** A parsed flag: text, `true`, or the values of a repeatable flag. */
export type FlagValue = string | boolean | readonly string[];

/** The result of {@link parseArgv}. */
export interface ParsedArgs {
  readonly flags: Readonly<Record<string, FlagValue | undefined>>;
  readonly positionals: readonly string[];
}

function unknownFlag(token: string, specs: FlagSpecs): InvalidArgumentError {
  const known = Object.keys(specs).map((n) => `--${n}`);
  return new InvalidArgumentError(`unknown flag ${token}${didYouMean(token.split('=')[0]!, known)} (see --help)`);
}

/** Parse `argv` (no program or command names in it) against `specs`. Throws InvalidArgumentError. */
export function parseArgv(argv: readonly string[], specs: FlagSpecs): ParsedArgs {
  const flags: Record<string, FlagValue> = {};
  const positionals: string[] = [];
  const shorts = new Map(Object.entries(specs).flatMap(([name, s]) => (s.short ? [[s.short, name] as const] : [])));
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!token.startsWith('-') || token === '-' || /^-\d/.test(token)) {
      positionals.push(token);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      name = eq === -1 ? token.slice(2) : token.slice(2, eq);
      inline = eq === -1 ? undefined : token.slice(eq + 1);
    } else {
      const short = shorts.get(token.slice(1));
      if (short === undefined) throw unknownFlag(token, specs);
      name = short;
    }
    const spec = specs[name];
    if (!spec) throw unknownFlag(token, specs);
    if (spec.type === 'boolean') {
      if (inline !== undefined && inline !== 'true' && inline !== 'false') {
        throw new InvalidArgumentError(`--${name} takes no value (got "${inline}")`);
      }
      flags[name] = inline !== 'false';
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) {
      throw new InvalidArgumentError(`--${name} needs a value${spec.value ? ` (${spec.value})` : ''}`);
    }
    if (spec.multiple) flags[name] = [...((flags[name] as readonly string[] | undefined) ?? []), value];
    else if (flags[name] !== undefined) throw new InvalidArgumentError(`--${name} was given twice`);
    else flags[name] = value;
  }
  return { flags, positionals };
}

/** A string flag's value, if given. */
export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** A boolean flag: true when given. */
export function booleanFlag(args: ParsedArgs, name: string): boolean {
  return args.flags[name] === true;
}

/** A repeatable flag's values, each split on commas (`--id a,b --id c` → a, b, c). */
export function listFlag(args: ParsedArgs, name: string): string[] {
  const v = args.flags[name];
  const values = typeof v === 'string' ? [v] : Array.isArray(v) ? (v as readonly string[]) : [];
  return values.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
}

/** A flag holding a positive whole number, if given; otherwise a usage error naming it. */
export function intFlag(args: ParsedArgs, name: string, min = 1): number | undefined {
  const v = stringFlag(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`--${name} must be a whole number >= ${min} (got "${v}")`);
  return n;
}
