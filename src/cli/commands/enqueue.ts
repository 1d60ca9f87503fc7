/** `jobbus enqueue <queue> <name>`: publish one job. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError } from '../../errors.js';
import type { JobInput, JsonValue } from '../../jobs/job.js';
import { intFlag, listFlag, stringFlag, type ParsedArgs } from '../args.js';
import type { Command, CommandContext } from '../command.js';
import { EXIT } from '../exit.js';
import { printJson } from '../output.js';
import { parseDuration, parseInstant } from '../time.js';

function payloadOf(args: ParsedArgs, cwd: string): JsonValue {
  const text = stringFlag(args, 'payload');
  const file = stringFlag(args, 'payload-file');
  if (text !== undefined && file !== undefined) throw new InvalidArgumentError('give --payload or --payload-file, not both');
  if (text === undefined && file === undefined) return {};
  const [source, where] = file !== undefined ? [readFileSync(file === '-' ? 0 : resolve(cwd, file), 'utf8'), '--payload-file'] : [text!, '--payload'];
  try {
    return JSON.parse(source) as JsonValue;
  } catch (err) {
    throw new InvalidArgumentError(`${where} must be JSON (${(err as Error).message}); quote a string as '"text"'`);
  }
}

function headersOf(args: ParsedArgs): Record<string, string> | undefined {
  const given = listFlag(args, 'header');
  if (given.length === 0) return undefined;
  return Object.fromEntries(
    given.map((h) => {
      const eq = h.indexOf('=');
      if (eq <= 0) throw new InvalidArgumentError(`--header must be NAME=VALUE (got "${h}")`);
      return [h.slice(0, eq), h.slice(eq + 1)];
    }),
  );
}

function runAtOf(args: ParsedArgs): Date | undefined {
  const delay = stringFlag(args, 'delay');
  const at = stringFlag(args, 'at');
  if (delay !== undefined && at !== undefined) throw new InvalidArgumentError('give --delay or --at, not both');
  if (delay !== undefined) return new Date(Date.now() + parseDuration(delay, '--delay'));
  if (at !== undefined) {
    if (!/^\d{4}-\d{2}-\d{2}/.test(at)) throw new InvalidArgumentError(`--at must be an ISO 8601 time like 2026-11-28T18:00:00Z (got "${at}")`);
    return parseInstant(at, '--at');
  }
  return undefined;
}

async function run(ctx: CommandContext): Promise<number> {
  const [queue, name] = ctx.args.positionals as [string, string];
  const payload = payloadOf(ctx.args, ctx.io.cwd);
  const runAt = runAtOf(ctx.args);
  const headers = headersOf(ctx.args);
  const maxAttempts = intFlag(ctx.args, 'max-attempts');
  const input: JobInput = {
    name,
    queue,
    payload,
    ...(runAt && { runAt }),
    ...(headers && { headers }),
    ...(maxAttempts !== undefined && { maxAttempts }),
    ...(stringFlag(ctx.args, 'id') !== undefined && { id: stringFlag(ctx.args, 'id')! }),
    ...(stringFlag(ctx.args, 'key') !== undefined && { partitionKey: stringFlag(ctx.args, 'key')! }),
    ...(stringFlag(ctx.args, 'idempotency-key') !== undefined && { idempotencyKey: stringFlag(ctx.args, 'idempotency-key')! }),
  };
  const jobs = await ctx.open();
  const job = await jobs.enqueue(input);
  if (ctx.json) {
    printJson(ctx.io, { id: job.id, name: job.name, queue: job.queue, runAt: job.runAt, maxAttempts: job.maxAttempts, partitionKey: job.partitionKey });
  } else {
    const later = job.runAt.getTime() > Date.now() + 1_000 ? `, runs at ${job.runAt.toISOString()}` : '';
    ctx.io.out(`enqueued ${job.id} (${job.name} on ${job.queue}${later})`);
  }
  return EXIT.ok;
}

/** The `enqueue` command. */
export const enqueueCommand: Command = {
  name: 'enqueue',
  summary: 'publish a job',
  usage: 'enqueue <queue> <name> [--payload JSON | --payload-file FILE] [--delay 5s | --at ISO] [flags]',
  details: [
    'Examples:',
    `  jobbus enqueue emails welcome --payload '{"to":"ada@example.com"}'`,
    '  jobbus enqueue reports nightly --payload-file report.json --delay 10m --json',
  ].join('\n'),
  positionals: { min: 2, max: 2, names: '<queue> <name>' },
  flags: {
    payload: { type: 'string', value: 'JSON', description: 'the payload as JSON (default {})' },
    'payload-file': { type: 'string', value: 'FILE', description: 'read the JSON payload from FILE (- for stdin)' },
    delay: { type: 'string', value: 'DURATION', description: 'run not before this long from now (5s, 10m, 1h30m)' },
    at: { type: 'string', value: 'ISO', description: 'run not before this time (2026-11-28T18:00:00Z)' },
    key: { type: 'string', value: 'KEY', description: 'partition key: jobs with the same key run in order, one at a time' },
    'idempotency-key': { type: 'string', value: 'KEY', description: 'idempotency key handed to the handler' },
    'max-attempts': { type: 'string', value: 'N', description: "attempts before the job is dead-lettered (default: the worker's)" },
    header: { type: 'string', multiple: true, value: 'NAME=VALUE', description: 'a job header (repeatable)' },
    id: { type: 'string', value: 'ID', description: 'the job id (default: a new UUIDv7)' },
  },
  run,
};
