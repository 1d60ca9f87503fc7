/**
 * Cron tasks on the in-memory bus: a plain task every second and a typed one at 02:30 in Rome,
 * two scheduler instances sharing one lock store (each tick still fires once), a manual trigger,
 * then list() and the counters. Runs about three seconds and exits 0.
 * Run: npx tsx examples/cron.ts
 */
import { z } from 'zod';
import { createJobbus, defineJob, payloadOf } from 'jobbus';
import { createMemoryLockProvider, createScheduler } from 'jobbus/scheduler';

const nightlyReport = defineJob({
  name: 'nightly-report',
  queue: 'reports',
  schema: z.object({ format: z.enum(['pdf', 'csv']) }),
  handler: ({ format }) => console.log(`  report as ${format}`),
});

const jobs = createJobbus();
// The memory provider serves the instances of ONE process; several processes need Redis,
// PostgreSQL or NATS KV (a lock store every instance shares).
const locks = createMemoryLockProvider();
const instances = [createScheduler({ jobs, locks }), createScheduler({ jobs, locks })];

const handled: string[] = [];
const worker = jobs.worker({
  queues: ['heartbeats', 'reports'],
  definitions: [nightlyReport],
  handlers: {
    heartbeat: (job) => {
      handled.push(job.id);
      console.log(`fired ${job.id}  tick ${job.runAt.toISOString()}  payload ${JSON.stringify(payloadOf(job))}`);
    },
  },
});
await worker.start();

for (const scheduler of instances) {
  // Both instances register the same tasks, as every replica of an application would.
  scheduler.register({ name: 'heartbeat', schedule: '@every 1s', queue: 'heartbeats', jobName: 'heartbeat', payload: { from: 'cron' } });
  scheduler.register({ name: 'nightly-report', schedule: '30 2 * * *', timezone: 'Europe/Rome', misfirePolicy: 'fire_once', job: nightlyReport, payload: { format: 'pdf' } });
  await scheduler.start();
}

const [first] = instances;
const manual = await first!.trigger('nightly-report'); // now, outside its schedule
console.log(`trigger nightly-report: ${manual.fired ? `fired ${manual.jobId}` : `not fired (${manual.reason})`}`);

// Three heartbeats, then shut down: stop the schedulers first, then the bus.
const until = Date.now() + 10_000;
while (handled.length < 3 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
for (const scheduler of instances) await scheduler.stop();

for (const task of await first!.list()) {
  console.log(`task ${task.name}  schedule "${task.schedule}" (${task.timezone})  last fired ${task.lastFiredAt?.toISOString() ?? 'never'}`);
}
const fired = instances.reduce((n, s) => n + s.counters().fired, 0);
console.log(`ticks fired: ${fired} (by two instances), heartbeats handled: ${handled.length}, duplicates: ${handled.length - new Set(handled).size}`);
await jobs.close();
if (handled.length < 3) process.exit(1);
console.log('cron OK');
