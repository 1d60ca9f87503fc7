/**
 * `npm run demo`: the whole data path on the embedded in-memory bus, no services needed.
 * Enqueues jobs of which some fail and then succeed, one fails permanently and lands in
 * the DLQ, and one is delayed; a worker runs them and the demo prints what happened.
 */
import pino from 'pino';
import { createJob, PermanentError } from '../src/index.js';
import { createBusDLQStore, createEventBusBridge, createRuntimeBackend, createWorker } from '../src/advanced.js';
import { createMemoryEventBus } from '../src/eventbus/memory/index.js';

const queue = 'emails';
const logger = pino({ level: process.env.JOBBUS_LOG_LEVEL ?? 'silent' });

const bus = createMemoryEventBus();
const runtime = createEventBusBridge(bus, { logger });
const backend = createRuntimeBackend(runtime);
const dlq = createBusDLQStore(bus);
const worker = createWorker(
  backend,
  {
    queues: [queue],
    concurrency: 4,
    retry: { maxAttempts: 4, initialBackoffMs: 100, maxBackoffMs: 1_000, attemptTimeoutMs: 2_000, jitter: 0.1 },
  },
  { logger },
);

const outcomes = { succeeded: 0, failedAttempts: 0 };
const attemptsById = new Map<string, number>();
let delayedLateMs: number | undefined;
const finished = new Set<string>();
const started = Date.now();
const log = (line: string): void => console.log(`${String(Date.now() - started).padStart(5)} ms  ${line}`);

worker.register('send-welcome', async (job) => {
  const { to, flakiness } = JSON.parse(new TextDecoder().decode(job.payload)) as { to: string; flakiness: number };
  attemptsById.set(job.id, job.attempt + 1);
  if (job.attempt < flakiness) {
    outcomes.failedAttempts++;
    log(`send-welcome to ${to}: attempt ${job.attempt} failed (SMTP timeout), will retry`);
    throw new Error('SMTP timeout');
  }
  outcomes.succeeded++;
  finished.add(job.id);
  log(`send-welcome to ${to}: sent on attempt ${job.attempt}`);
});

worker.register('send-invoice', async (job) => {
  log(`send-invoice ${job.id.slice(-8)}: customer has no e-mail address, giving up`);
  finished.add(job.id);
  throw new PermanentError('customer 4711 has no e-mail address');
});

worker.register('send-reminder', async (job) => {
  delayedLateMs = Date.now() - job.runAt.getTime();
  outcomes.succeeded++;
  finished.add(job.id);
  log(`send-reminder: ran ${delayedLateMs} ms after its runAt`);
});

await worker.start();

const jobs = [
  createJob({ name: 'send-welcome', queue, payload: { to: 'ada@example.com', flakiness: 0 } }),
  createJob({ name: 'send-welcome', queue, payload: { to: 'grace@example.com', flakiness: 1 } }),
  createJob({ name: 'send-welcome', queue, payload: { to: 'linus@example.com', flakiness: 2 } }),
  createJob({ name: 'send-invoice', queue, payload: { invoice: 4711 } }),
  createJob({ name: 'send-reminder', queue, payload: { to: 'ada@example.com' }, runAt: new Date(Date.now() + 1_500) }),
];
await backend.enqueueBatch(jobs);
log(`enqueued ${jobs.length} jobs (one of them delayed by 1.5 s)`);

const deadline = Date.now() + 10_000;
while (finished.size < jobs.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
// Give the DLQ publish of the last failure a moment to land.
let entries = await dlq.listDLQ(queue, 10);
while (entries.length === 0 && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 20));
  entries = await dlq.listDLQ(queue, 10);
}

await worker.stop();
await backend.close();

console.log('\nSummary');
console.log(`  succeeded:          ${outcomes.succeeded} jobs`);
console.log(`  failed attempts:    ${outcomes.failedAttempts} (retried with exponential backoff)`);
for (const j of jobs.filter((x) => x.name === 'send-welcome')) {
  console.log(`    ${j.id.slice(-8)} send-welcome needed ${attemptsById.get(j.id)} attempt(s)`);
}
console.log(`  dead-lettered:      ${entries.length}`);
for (const e of entries) console.log(`    ${e.job.id.slice(-8)} ${e.job.name} from "${e.originalQueue}": ${e.reason}`);
console.log(`  delayed job:        ran ${delayedLateMs ?? '?'} ms after its runAt (never early)`);
const ok = outcomes.succeeded === 4 && entries.length === 1 && delayedLateMs !== undefined && delayedLateMs >= 0;
console.log(ok ? '\ndemo OK' : '\ndemo FAILED');
process.exit(ok ? 0 : 1);
