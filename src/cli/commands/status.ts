/** `jobbus status <jobId>` and `jobbus status --snapshot`: the optional job-status store. */
import { InvalidArgumentError, NotFoundError, UnavailableError, isJobbusError } from '../../errors.js';
import { booleanFlag } from '../args.js';
import { JOB_STATES, type JobState, type StateCounts, type StatusSnapshot } from '../../status/types.js';
import type { Command, CommandContext } from '../command.js';
import { EXIT } from '../exit.js';
import { printJson, table } from '../output.js';

function when(value: Date | undefined): string | undefined {
  return value?.toISOString();
}

function countsTable(title: string, counts: Readonly<Record<string, StateCounts>>, states: readonly JobState[]): string {
  const rows = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  return table(rows, [
    { title, value: ([k]) => k },
    ...states.map((s) => ({ title: s.toUpperCase(), value: ([, c]: (typeof rows)[number]) => c[s] ?? 0, align: 'right' as const })),
  ]);
}

function printSnapshot(ctx: CommandContext, snap: StatusSnapshot): void {
  const states = JOB_STATES;
  ctx.io.out(`${snap.total} job(s) in the status store: ${states.map((s) => `${s} ${snap.byState[s]}`).join(', ')}`);
  if (Object.keys(snap.byQueue).length > 0) ctx.io.out(`\n${countsTable('QUEUE', snap.byQueue, states)}`);
  if (Object.keys(snap.byName).length > 0) ctx.io.out(`\n${countsTable('JOB NAME', snap.byName, states)}`);
}

/** A store that does not answer: say which one and where its address is set. */
function storeHint(ctx: CommandContext, err: unknown): unknown {
  if (!isJobbusError(err) || !['UNAVAILABLE', 'TIMEOUT'].includes(err.code)) return err;
  const s = ctx.config().status!;
  const where = s.url ?? (s.store === 'nats-kv' ? 'the NATS connection of the bus' : 'no URL');
  return new UnavailableError(`the ${s.store} status store at ${where} does not answer (${err.message}); check --status-url / JOBBUS_STATUS_URL / jobs.status.url`, { cause: err });
}

async function run(ctx: CommandContext): Promise<number> {
  const snapshot = booleanFlag(ctx.args, 'snapshot');
  const id = ctx.args.positionals[0];
  if (snapshot === (id !== undefined)) throw new InvalidArgumentError('give a job id or --snapshot (one of them)');
  if (!ctx.config().status) {
    throw new InvalidArgumentError('no job-status store configured: pass --status-store redis|nats-kv (and --status-url), or set `jobs.status` in the config file');
  }
  const jobs = await ctx.open();
  const api = {
    status: (jobId: string) => jobs.status(jobId).catch((err: unknown) => Promise.reject(storeHint(ctx, err))),
    statusSnapshot: () => jobs.statusSnapshot().catch((err: unknown) => Promise.reject(storeHint(ctx, err))),
  };
  if (snapshot) {
    const snap = await api.statusSnapshot();
    if (ctx.json) printJson(ctx.io, snap);
    else printSnapshot(ctx, snap);
    return EXIT.ok;
  }
  const record = await api.status(id!);
  if (!record) throw new NotFoundError(`no status for job ${id}: unknown, expired, or its workers do not write to this status store`);
  if (ctx.json) printJson(ctx.io, record);
  else {
    const lines: [string, string | number | undefined][] = [
      ['job', record.jobId],
      ['name', record.name],
      ['queue', record.queue],
      ['state', record.state],
      ['attempt', record.attempt],
      ['updated', when(record.updatedAt)],
      ['enqueued', when(record.enqueuedAt)],
      ['error', record.error],
    ];
    for (const [k, v] of lines) if (v !== undefined) ctx.io.out(`${`${k}:`.padEnd(10)}${v}`);
  }
  return EXIT.ok;
}

/** The `status` command. */
export const statusCommand: Command = {
  name: 'status',
  summary: "show a job's state from the job-status store, or counts of all (--snapshot)",
  usage: 'status (<jobId> | --snapshot)',
  details: 'Needs the job-status store the workers write to (--status-store, --status-url, or `jobs.status`).\nAn unknown (or expired) job id exits with 4.',
  positionals: { min: 0, max: 1, names: '<jobId>' },
  flags: { snapshot: { type: 'boolean', description: 'counts by state, job name and queue' } },
  run,
};
