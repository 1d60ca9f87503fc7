/** `jobbus dlq list|replay|purge <queue>`: the dead-letter queue of a queue. */
import { InvalidArgumentError, NotFoundError } from '../../errors.js';
import { booleanFlag, intFlag, listFlag, stringFlag, type FlagSpecs, type ParsedArgs } from '../args.js';
import type { DLQEntry, DLQFilter } from '../../jobs/types.js';
import type { Command, CommandContext } from '../command.js';
import { EXIT } from '../exit.js';
import { clip, iso, printJson, progressLine, table } from '../output.js';
import { parseInstant } from '../time.js';

const FILTER_FLAGS: FlagSpecs = {
  name: { type: 'string', multiple: true, value: 'NAME', description: 'only jobs of this name (repeatable, or comma-separated)' },
  reason: { type: 'string', value: 'TEXT', description: 'only entries whose failure reason contains TEXT (case-insensitive)' },
  since: { type: 'string', value: 'ISO|DURATION', description: 'only entries that failed at or after this time (or this long ago: 1h)' },
  until: { type: 'string', value: 'ISO|DURATION', description: 'only entries that failed before this time' },
};

const SELECT_FLAGS: FlagSpecs = {
  id: { type: 'string', multiple: true, value: 'ENTRY', description: 'the entry ids to select (repeatable, or comma-separated)' },
  all: { type: 'boolean', description: 'select every entry (with the filters, every matching one)' },
  ...FILTER_FLAGS,
  yes: { type: 'boolean', short: 'y', description: 'do not ask for confirmation (needed when stdin is not a terminal)' },
  progress: { type: 'boolean', description: 'show the progress line on stderr even when it is not a terminal' },
};

function filterOf(args: ParsedArgs): DLQFilter {
  const names = listFlag(args, 'name');
  const reason = stringFlag(args, 'reason');
  const since = stringFlag(args, 'since');
  const until = stringFlag(args, 'until');
  const ids = args.flags.id !== undefined ? listFlag(args, 'id') : [];
  return {
    ...(ids.length > 0 && { ids }),
    ...(names.length > 0 && { names }),
    ...(reason !== undefined && { reason }),
    ...(since !== undefined && { since: parseInstant(since, '--since') }),
    ...(until !== undefined && { until: parseInstant(until, '--until') }),
  };
}

function describeFilter(f: DLQFilter): string {
  const parts = [
    f.ids && `ids ${f.ids.join(', ')}`,
    f.names && `name ${f.names.join(' or ')}`,
    f.reason !== undefined && `reason containing "${f.reason}"`,
    f.since && `failed since ${f.since.toISOString()}`,
    f.until && `failed before ${f.until.toISOString()}`,
  ].filter(Boolean);
  return parts.length === 0 ? 'every entry' : `entries with ${parts.join(', ')}`;
}

/**
 * The selection of a replay or purge: `--id`, `--all`, or filters (with or without `--all`).
 * Nothing at all is a usage error: a bare `purge orders` must not mean "everything".
 */
function selectionOf(args: ParsedArgs, verb: string): { filter: DLQFilter; all: boolean } {
  const filter = filterOf(args);
  const all = booleanFlag(args, 'all');
  if (all && filter.ids) throw new InvalidArgumentError('give --id or --all, not both');
  if (!all && Object.keys(filter).length === 0) {
    throw new InvalidArgumentError(`choose what to ${verb}: --id ENTRY, --all, or filters (--name, --reason, --since, --until)`);
  }
  return { filter, all: all || !filter.ids };
}

/** Ask before a destructive operation; refuse without a terminal unless `--yes`. */
async function confirm(ctx: CommandContext, question: string): Promise<boolean> {
  if (booleanFlag(ctx.args, 'yes')) return true;
  if (!ctx.io.stdinIsTTY) {
    throw new InvalidArgumentError(`refusing to ${question.split(' ')[0]!.toLowerCase()} without confirmation: stdin is not a terminal; pass --yes`);
  }
  const answer = await ctx.io.ask(`${question} [y/N] `);
  return /^y(es)?$/i.test(answer.trim());
}

function rateOf(args: ParsedArgs): number | undefined {
  const text = stringFlag(args, 'rate');
  if (text === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(text.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!(n > 0)) throw new InvalidArgumentError(`--rate must be a positive number of entries per second, like 50/s (got "${text}")`);
  return n;
}

function noneFound(filter: DLQFilter, queue: string): NotFoundError {
  return new NotFoundError(`none of the given entry ids is in the DLQ of "${queue}": ${filter.ids!.join(', ')} (see jobbus dlq list ${queue})`);
}

async function list(ctx: CommandContext): Promise<number> {
  const queue = ctx.args.positionals[0]!;
  const limit = intFlag(ctx.args, 'limit') ?? 50;
  const cursor = stringFlag(ctx.args, 'cursor');
  const { dlq } = await ctx.open();
  const page = await dlq.list(queue, { ...filterOf(ctx.args), limit, ...(cursor !== undefined && { cursor }) });
  if (ctx.json) {
    printJson(ctx.io, { queue, entries: page.entries, ...(page.nextCursor !== undefined && { nextCursor: page.nextCursor }) });
    return EXIT.ok;
  }
  if (page.entries.length === 0) ctx.io.err(`no entries in the DLQ of "${queue}" (${describeFilter(filterOf(ctx.args))})`);
  else {
    ctx.io.out(
      table<DLQEntry>(page.entries, [
        { title: 'FAILED AT', value: (e) => iso(new Date(e.failedAt)) },
        { title: 'ENTRY', value: (e) => e.entryId },
        { title: 'JOB ID', value: (e) => e.job.id },
        { title: 'NAME', value: (e) => e.job.name },
        { title: 'ATTEMPTS', value: (e) => e.attempt + 1, align: 'right' },
        { title: 'REASON', value: (e) => clip(e.reason, 60) },
        { title: 'PAYLOAD', value: (e) => clip(e.payloadPreview, 40) },
      ]),
    );
  }
  if (page.nextCursor !== undefined) ctx.io.err(`more entries: jobbus dlq list ${queue} --cursor ${page.nextCursor}`);
  return EXIT.ok;
}

async function replay(ctx: CommandContext): Promise<number> {
  const queue = ctx.args.positionals[0]!;
  const { filter, all } = selectionOf(ctx.args, 'replay');
  const ratePerSecond = rateOf(ctx.args);
  if (all && !(await confirm(ctx, `Replay ${describeFilter(filter)} of the DLQ of "${queue}" back to "${queue}"?`))) {
    ctx.io.err('nothing replayed');
    return EXIT.failed;
  }
  const { dlq } = await ctx.open();
  const progress = progressLine(ctx.io, 'replaying', ctx.io.stderrIsTTY || booleanFlag(ctx.args, 'progress'));
  const report = await dlq
    .replay(queue, filter, { ...(ratePerSecond !== undefined && { ratePerSecond }), onProgress: (p) => progress.update(p), signal: ctx.signal })
    .finally(() => progress.end());
  if (ctx.json) printJson(ctx.io, { queue, ...report });
  else {
    const earlier = report.alreadyReplayed > 0 ? ` (${report.alreadyReplayed} already replayed by an earlier run, now removed)` : '';
    ctx.io.out(`replayed ${report.replayed} of ${report.matched} matching entries to "${queue}"${earlier}`);
  }
  if (filter.ids && report.matched === 0) throw noneFound(filter, queue);
  if (filter.ids && report.matched < filter.ids.length) ctx.io.err(`${filter.ids.length - report.matched} of the given ids were not in the DLQ`);
  return EXIT.ok;
}

async function purge(ctx: CommandContext): Promise<number> {
  const queue = ctx.args.positionals[0]!;
  const { filter } = selectionOf(ctx.args, 'purge');
  if (!(await confirm(ctx, `Purge ${describeFilter(filter)} of the DLQ of "${queue}"? This cannot be undone.`))) {
    ctx.io.err('nothing purged');
    return EXIT.failed;
  }
  const { dlq } = await ctx.open();
  const progress = progressLine(ctx.io, 'purging', ctx.io.stderrIsTTY || booleanFlag(ctx.args, 'progress'));
  const report = await dlq.purge(queue, filter, { onProgress: (p) => progress.update(p) }).finally(() => progress.end());
  if (ctx.json) printJson(ctx.io, { queue, ...report });
  else ctx.io.out(`purged ${report.purged} of ${report.matched} matching entries from the DLQ of "${queue}"`);
  if (filter.ids && report.matched === 0) throw noneFound(filter, queue);
  return EXIT.ok;
}

const queueArg = { min: 1, max: 1, names: '<queue>' } as const;

/** The `dlq` command group. */
export const dlqCommand: Command = {
  name: 'dlq',
  summary: 'list, replay or purge the dead-letter queue of a queue',
  usage: 'dlq <list|replay|purge> <queue> [flags]',
  subcommands: [
    {
      name: 'list',
      summary: 'list DLQ entries, newest first',
      usage: 'list <queue> [--name N] [--reason TEXT] [--since ISO|1h] [--until …] [--limit N] [--cursor C]',
      positionals: queueArg,
      flags: {
        ...FILTER_FLAGS,
        limit: { type: 'string', value: 'N', description: 'entries per page (default 50)' },
        cursor: { type: 'string', value: 'C', description: 'continue after the page that printed this cursor' },
      },
      run: list,
    },
    {
      name: 'replay',
      summary: 'publish DLQ entries back to their queue (attempts reset) and remove them from the DLQ',
      usage: 'replay <queue> (--id ENTRY … | --all | filters) [--rate N/s] [--yes]',
      details: 'A replay interrupted (killed, broker down) can be run again: no entry is lost and none is replayed twice.\n--all asks for confirmation first (refused without a terminal unless --yes).',
      positionals: queueArg,
      flags: { ...SELECT_FLAGS, rate: { type: 'string', value: 'N/s', description: 'at most N entries per second (default: no limit)' } },
      run: replay,
    },
    {
      name: 'purge',
      summary: 'delete DLQ entries for good',
      usage: 'purge <queue> (--id ENTRY … | --all | filters) [--yes]',
      details: 'Always asks for confirmation (refused without a terminal unless --yes).',
      positionals: queueArg,
      flags: SELECT_FLAGS,
      run: purge,
    },
  ],
};
