/**
 * One scheduler instance in a process of its own, for the kill test of
 * multi-instance.int.test.ts: PostgreSQL locks, jobs on a NATS bus. It prints `READY` once
 * started, `FIRING <job id>` when a dispatch holds its tick's lock and is about to enqueue
 * (then stalls `stallMs`, so the parent can kill it mid-run), `FIRED <job id>` once the bus
 * accepted the job. SIGTERM stops it gracefully.
 */
import pino from 'pino';
import { createJobbus } from '../../src/jobbus.js';
import { createNatsEventBus } from '../../src/eventbus/nats/index.js';
import { createScheduler } from '../../src/scheduler/index.js';
import { createPostgresLockProvider } from '../../src/scheduler/locks/postgres.js';
import type { SchedulerTarget } from '../../src/scheduler/types.js';
import { CHILD_ENV, type ChildConfig } from './multi-instance-config.js';

async function main(): Promise<void> {
  const config = JSON.parse(process.env[CHILD_ENV] ?? '') as ChildConfig;
  const logger = pino({ level: process.env.JOBBUS_LOG_LEVEL ?? 'silent' });
  const bus = await createNatsEventBus({ servers: config.natsUrl, subjectPrefix: config.subjectPrefix, streamPrefix: config.streamPrefix, logger });
  const jobs = createJobbus({ bus, logger });
  const locks = createPostgresLockProvider({ connectionString: config.pgUrl }, { table: config.table });
  const target: SchedulerTarget = {
    async enqueue(job) {
      process.stdout.write(`FIRING ${job.id}\n`);
      await new Promise((r) => setTimeout(r, config.stallMs)); // the mid-run window the parent kills in
      const out = await jobs.enqueue(job);
      process.stdout.write(`FIRED ${out.id}\n`);
      return out;
    },
  };
  const scheduler = createScheduler({ jobs: target, locks, logger });
  scheduler.register({ name: config.task, schedule: '@every 1s', queue: config.queue, jobName: 'tick' });
  await scheduler.start();
  process.stdout.write('READY\n');
  process.once('SIGTERM', () => {
    void (async () => {
      await scheduler.stop();
      await locks.close();
      await jobs.close();
      process.exit(0);
    })();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
