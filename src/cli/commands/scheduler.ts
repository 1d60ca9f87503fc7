/**
 * `jobbus scheduler list|trigger --tasks <module>`: the scheduler's tasks live in the user's
 * code, so the command imports a module exporting them (`tasks`: an array of tasks, and
 * optionally `locks`: the LockProvider the application's schedulers share, for the last fired
 * tick and the trigger's lock).
 */
import { NotFoundError, UnavailableError, ValidationError, isJobbusError } from '../../errors.js';
import { createMemoryLockProvider } from '../../scheduler/locks/memory.js';
import { createScheduler } from '../../scheduler/scheduler.js';
import { prepareTask, type PreparedTask } from '../../scheduler/task.js';
import type { LockProvider, Task } from '../../scheduler/types.js';
import { intFlag, stringFlag } from '../args.js';
import type { Command, CommandContext } from '../command.js';
import { EXIT } from '../exit.js';
import { printJson, table } from '../output.js';
import { didYouMean } from '../suggest.js';
import { exportOf, loadUserModule } from '../user-module.js';

interface Loaded {
  readonly tasks: readonly Task[];
  readonly prepared: readonly PreparedTask[];
  readonly locks: LockProvider | undefined;
}

async function loadTasks(ctx: CommandContext): Promise<Loaded> {
  const spec = stringFlag(ctx.args, 'tasks');
  if (spec === undefined) throw new ValidationError('--tasks', 'name the module that exports your tasks: --tasks ./tasks.js');
  const mod = await loadUserModule(spec, '--tasks', ctx.io.cwd);
  const given = Array.isArray(mod.default) ? mod.default : exportOf(mod, 'tasks');
  if (!Array.isArray(given)) throw new ValidationError('--tasks', `${spec} must export \`tasks\` (an array of scheduler tasks)`);
  const tasks = given as Task[];
  const prepared = tasks.map((t, i) => {
    try {
      return prepareTask(t, 30_000);
    } catch (err) {
      throw new ValidationError('--tasks', `task ${i} (${String((t as { name?: unknown }).name)}) in ${spec}: ${(err as Error).message}`, { cause: err });
    }
  });
  const locks = exportOf(mod, 'locks') as LockProvider | undefined;
  if (locks !== undefined && typeof locks.acquire !== 'function') throw new ValidationError('--tasks', `\`locks\` of ${spec} must be a LockProvider`);
  return { tasks, prepared, locks };
}

function nextRuns(p: PreparedTask, count: number, from: Date): Date[] {
  const runs: Date[] = [];
  let at = from;
  for (let i = 0; i < count; i++) runs.push((at = p.schedule.next(at)));
  return runs;
}

async function list(ctx: CommandContext): Promise<number> {
  const { prepared, locks } = await loadTasks(ctx);
  const count = intFlag(ctx.args, 'next') ?? 3;
  const now = new Date();
  const rows = await Promise.all(
    prepared.map(async (p) => ({
      name: p.name,
      schedule: p.schedule.expression,
      timezone: p.timezone,
      queue: p.queue,
      jobName: p.jobName,
      misfirePolicy: p.misfirePolicy,
      nextRuns: nextRuns(p, count, now),
      lastFiredAt: locks ? await locks.lastFired(p.name) : undefined,
    })),
  );
  if (ctx.json) {
    printJson(ctx.io, { tasks: rows });
    return EXIT.ok;
  }
  ctx.io.out(
    table(rows, [
      { title: 'TASK', value: (r) => r.name },
      { title: 'SCHEDULE', value: (r) => r.schedule },
      { title: 'TIMEZONE', value: (r) => r.timezone },
      { title: 'QUEUE', value: (r) => r.queue },
      { title: 'JOB', value: (r) => r.jobName },
      { title: 'MISFIRE', value: (r) => r.misfirePolicy },
      { title: 'NEXT RUNS', value: (r) => r.nextRuns.map((d) => d.toISOString()).join(' ') },
      { title: 'LAST FIRED', value: (r) => r.lastFiredAt?.toISOString() },
    ]),
  );
  return EXIT.ok;
}

async function trigger(ctx: CommandContext): Promise<number> {
  const name = ctx.args.positionals[0]!;
  const { tasks, prepared, locks } = await loadTasks(ctx);
  if (!prepared.some((p) => p.name === name)) {
    throw new NotFoundError(`no task "${name}" in ${stringFlag(ctx.args, 'tasks')}${didYouMean(name, prepared.map((p) => p.name))}`);
  }
  const jobs = await ctx.open();
  const scheduler = createScheduler({ jobs, locks: locks ?? createMemoryLockProvider() });
  for (const t of tasks) scheduler.register(t);
  const result = await scheduler.trigger(name);
  if (!result.fired) {
    if (result.reason === 'enqueue_failed') {
      throw isJobbusError(result.error) ? result.error : new UnavailableError(`task "${name}" could not enqueue its job`, { cause: result.error });
    }
    ctx.io.err(`task "${name}" did not fire: ${result.reason === 'lock_held' ? 'its lock is held by another instance' : result.reason}`);
    return EXIT.failed;
  }
  const task = prepared.find((p) => p.name === name)!;
  if (ctx.json) printJson(ctx.io, { task: name, fired: true, jobId: result.jobId, queue: task.queue, jobName: task.jobName });
  else ctx.io.out(`triggered "${name}": enqueued job ${result.jobId} (${task.jobName} on ${task.queue})`);
  return EXIT.ok;
}

const tasksFlag = { tasks: { type: 'string', value: 'MODULE', description: 'module exporting `tasks` (and optionally `locks`, your LockProvider)' } } as const;

/** The `scheduler` command group. */
export const schedulerCommand: Command = {
  name: 'scheduler',
  summary: 'list the scheduled tasks of a module, or trigger one now',
  usage: 'scheduler <list|trigger> --tasks <module> [flags]',
  subcommands: [
    {
      name: 'list',
      summary: "each task's schedule, next runs and (with `locks` exported) last fired tick; needs no broker",
      usage: 'list --tasks <module> [--next N]',
      positionals: { min: 0, max: 0, names: '' },
      flags: { ...tasksFlag, next: { type: 'string', value: 'N', description: 'how many next runs to show (default 3)' } },
      run: list,
    },
    {
      name: 'trigger',
      summary: "enqueue a task's job now (outside its schedule)",
      usage: 'trigger <task> --tasks <module>',
      positionals: { min: 1, max: 1, names: '<task>' },
      flags: tasksFlag,
      run: trigger,
    },
  ],
};
