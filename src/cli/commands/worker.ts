/**
 * `jobbus worker --handlers <module>`: a worker process. The module exports `handlers` (by job
 * name) and/or `definitions` (defineJob results), and optionally `worker` (worker settings:
 * queues, concurrency, retry, …). Settings: the config file's `jobs.worker`, then the module's,
 * then the flags.
 *
 * Process states: starting --started--> running --SIGTERM/SIGINT--> stopping (takes no new
 * job; running jobs finish up to the worker's stopTimeoutMs, the rest are released for
 * redelivery) --closed--> exit 0. A second signal while stopping exits at once (code 130).
 */
import { ValidationError } from '../../errors.js';
import type { JobbusWorkerConfig } from '../../jobbus.js';
import type { RegistrableJob } from '../../jobs/define.js';
import type { Job } from '../../jobs/types.js';
import type { JobHandler, WorkerHooks } from '../../worker/types.js';
import { booleanFlag, intFlag, listFlag, stringFlag } from '../args.js';
import type { Command, CommandContext } from '../command.js';
import type { CliIo } from '../io.js';
import { EXIT } from '../exit.js';
import { formatDuration } from '../time.js';
import { exportOf, loadUserModule } from '../user-module.js';

type Settings = Omit<JobbusWorkerConfig, 'handlers' | 'definitions'>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function loadHandlers(ctx: CommandContext): Promise<{ handlers: Record<string, JobHandler>; definitions: RegistrableJob[]; settings: Settings }> {
  const spec = stringFlag(ctx.args, 'handlers');
  if (spec === undefined) throw new ValidationError('--handlers', 'name the module that exports your handlers: --handlers ./handlers.js');
  const mod = await loadUserModule(spec, '--handlers', ctx.io.cwd);
  const handlers = exportOf(mod, 'handlers') ?? {};
  const definitions = exportOf(mod, 'definitions') ?? [];
  const settings = exportOf(mod, 'worker') ?? {};
  if (!isRecord(handlers) || Object.values(handlers).some((h) => typeof h !== 'function')) {
    throw new ValidationError('--handlers', `\`handlers\` of ${spec} must be an object of functions by job name`);
  }
  if (!Array.isArray(definitions)) throw new ValidationError('--handlers', `\`definitions\` of ${spec} must be an array of defineJob() results`);
  if (!isRecord(settings)) throw new ValidationError('--handlers', `\`worker\` of ${spec} must be an object of worker settings`);
  if (Object.keys(handlers).length === 0 && definitions.length === 0) {
    throw new ValidationError('--handlers', `${spec} exports no \`handlers\` and no \`definitions\``);
  }
  return { handlers: handlers as Record<string, JobHandler>, definitions: definitions as RegistrableJob[], settings: settings as Settings };
}

function describeJob(job: Job): string {
  return `${job.name} ${job.id} (queue ${job.queue}, attempt ${job.attempt + 1})`;
}

/** One stderr line per job event. */
function logHooks(io: CliIo): WorkerHooks {
  return {
    onStarted: (job) => io.err(`started ${describeJob(job)}`),
    onCompleted: (job, { durationMs }) => io.err(`completed ${describeJob(job)} in ${formatDuration(durationMs)}`),
    onRetry: (job, { error, delayMs }) => io.err(`failed ${describeJob(job)}: ${String((error as Error)?.message ?? error)}; retry in ${formatDuration(delayMs)}`),
    onRescheduled: (job, { delayMs, reason }) => io.err(`rescheduled ${describeJob(job)} in ${formatDuration(delayMs)}: ${reason}`),
    onDead: (job, { reason }) => io.err(`dead-lettered ${describeJob(job)}: ${reason}`),
    onError: (error) => io.err(`worker error: ${String((error as Error)?.message ?? error)}`),
  };
}

async function run(ctx: CommandContext): Promise<number> {
  const { handlers, definitions, settings } = await loadHandlers(ctx);
  const fileSettings = (ctx.config().worker ?? {}) as Settings;
  const queues = listFlag(ctx.args, 'queue');
  const concurrency = intFlag(ctx.args, 'concurrency');
  const merged: JobbusWorkerConfig = {
    ...fileSettings,
    ...settings,
    ...(queues.length > 0 && { queues }),
    ...(concurrency !== undefined && { concurrency }),
    handlers,
    definitions,
  };
  if (!merged.queues && definitions.length === 0) {
    throw new ValidationError('--queue', 'which queues? pass --queue Q (repeatable), export `worker: { queues }` or `definitions`, or set `jobs.worker.queues`');
  }
  const jobs = await ctx.open({ worker: true });
  const worker = jobs.worker(merged, booleanFlag(ctx.args, 'quiet') ? {} : { hooks: logHooks(ctx.io) });
  await worker.start();
  const config = ctx.config();
  const names = worker.config.queues.map((q) => q.name).join(', ');
  ctx.io.err(`worker started: queues ${names}; group ${config.group}; bus ${config.bus}; concurrency ${worker.config.concurrency} (SIGTERM or Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  ctx.io.err(`stopping: taking no new jobs, waiting for ${worker.running} running job(s) (up to ${formatDuration(worker.config.stopTimeoutMs)})`);
  await worker.stop();
  ctx.io.err('worker stopped');
  return EXIT.ok;
}

/** The `worker` command. */
export const workerCommand: Command = {
  name: 'worker',
  summary: 'run a worker process with the handlers of a module (graceful stop on SIGTERM and SIGINT)',
  usage: 'worker --handlers <module> [--queue Q …] [--concurrency N] [--quiet]',
  details: [
    'The module exports `handlers` ({ jobName: async (job, ctx) => … }) and/or `definitions` (defineJob results),',
    'and optionally `worker` (settings: queues, concurrency, retry, …). A .ts module needs a TypeScript loader',
    '(node --import tsx $(which jobbus) …) or compiling first.',
    'On SIGTERM or SIGINT the worker takes no new job, lets running ones finish (up to stopTimeoutMs), and exits 0.',
  ].join('\n'),
  positionals: { min: 0, max: 0, names: '' },
  flags: {
    handlers: { type: 'string', value: 'MODULE', description: 'module exporting `handlers` and/or `definitions` (and optionally `worker`)' },
    queue: { type: 'string', multiple: true, value: 'QUEUE', description: 'a queue to consume (repeatable; default: the module\'s or the config\'s)' },
    concurrency: { type: 'string', value: 'N', description: 'jobs run at once' },
    quiet: { type: 'boolean', description: 'no line per job on stderr' },
  },
  run,
};
