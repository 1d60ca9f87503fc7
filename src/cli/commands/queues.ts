/** `jobbus queues <queue…>` (stats), `jobbus pause <queue>`, `jobbus resume <queue>`. */
import type { QueueStats } from '../../queue-stats.js';
import type { Command, CommandContext } from '../command.js';
import { EXIT } from '../exit.js';
import { printJson, table } from '../output.js';
import { formatDuration } from '../time.js';

async function stats(ctx: CommandContext): Promise<number> {
  const queues = [...new Set(ctx.args.positionals)];
  const jobs = await ctx.open();
  const rows = await jobs.stats(queues);
  if (ctx.json) {
    printJson(ctx.io, { queues: rows });
    return EXIT.ok;
  }
  const now = Date.now();
  ctx.io.out(
    table<QueueStats>(rows, [
      { title: 'QUEUE', value: (r) => r.queue },
      { title: 'GROUP', value: (r) => r.group },
      { title: 'WAITING', value: (r) => r.waiting, align: 'right' },
      { title: 'IN FLIGHT', value: (r) => r.inFlight, align: 'right' },
      { title: 'DELAYED', value: (r) => r.delayed, align: 'right' },
      { title: 'OLDEST WAITING', value: (r) => (r.oldestWaitingAt ? `${formatDuration(now - r.oldestWaitingAt.getTime())} ago` : undefined) },
      { title: 'DLQ', value: (r) => r.dlq },
      { title: 'DLQ SIZE', value: (r) => r.dlqSize, align: 'right' },
      { title: 'PAUSED', value: (r) => (r.paused === undefined ? undefined : r.paused ? 'yes' : 'no') },
    ]),
  );
  return EXIT.ok;
}

function pauseCommand(verb: 'pause' | 'resume'): Command {
  return {
    name: verb,
    summary: verb === 'pause' ? 'stop the workers of the group taking new jobs of a queue' : 'let the workers of the group take jobs of a paused queue again',
    usage: `${verb} <queue> [--group GROUP]`,
    details:
      verb === 'pause'
        ? 'Every worker process of the group (also those started later) stops taking jobs of the queue within its poll\ninterval; running jobs finish; waiting jobs stay on the bus until `jobbus resume`.'
        : undefined,
    positionals: { min: 1, max: 1, names: '<queue>' },
    async run(ctx) {
      const queue = ctx.args.positionals[0]!;
      const jobs = await ctx.open();
      await jobs[verb](queue);
      const group = ctx.config().group;
      if (ctx.json) printJson(ctx.io, { queue, group, paused: verb === 'pause' });
      else ctx.io.out(`${verb === 'pause' ? 'paused' : 'resumed'} "${queue}" for group "${group}"`);
      return EXIT.ok;
    },
  };
}

/** The `queues` command. */
export const queuesCommand: Command = {
  name: 'queues',
  summary: 'show queue stats: waiting, in flight, delayed, oldest waiting, DLQ size, paused',
  usage: 'queues <queue…> [--group GROUP]',
  details: 'Counts are for the consumer group (--group, default jobbus), read from the bus alone.\nA count the bus cannot tell is shown as "-" (Kafka has no in-flight count: waiting includes them).',
  positionals: { min: 1, names: '<queue…>' },
  run: stats,
};

/** `pause` and `resume`. */
export const pauseCommands: readonly Command[] = [pauseCommand('pause'), pauseCommand('resume')];

