/**
 * `npm run demo`: jobbus on the in-memory bus, no services needed. Enqueues jobs of which some
 * fail and then succeed, one fails permanently and lands in the dead-letter queue, and one is
 * delayed; a worker runs them and the demo prints what happened.
 */
import { createJobbus, payloadOf, PermanentError } from 'jobbus';

const queue = 'emails';
const jobs = createJobbus();

const outcomes = { succeeded: 0, failedAttempts: 0 };
const attemptsById = new Map<string, number>();
let delayedLateMs: number | undefined;
const finished = new Set<string>();
const started = Date.now();
const log = (line: string): void => console.log(`${String(Date.now() - started).padStart(5)} ms  ${line}`);

const worker = jobs.worker({
  queues: [queue],
  concurrency: 4,
  retry: { maxAttempts: 4, initialBackoffMs: 100, maxBackoffMs: 1_000, attemptTimeoutMs: 2_000, jitter: 0.1 },
  handlers: {
    'send-welcome': async (job) => {
      const { to, flakiness } = payloadOf<{ to: string; flakiness: number }>(job);
      attemptsById.set(job.id, job.attempt + 1);
      if (job.attempt < flakiness) {
        outcomes.failedAttempts++;
        log(`send-welcome to ${to}: attempt ${job.attempt} failed (SMTP timeout), will retry`);
        throw new Error('SMTP timeout');
      }
      outcomes.succeeded++;
      finished.add(job.id);
      log(`send-welcome to ${to}: sent on attempt ${job.attempt}`);
    },
    'send-invoice': async (job) => {
      log(`send-invoice ${job.id.slice(-8)}: customer has no e-mail address, giving up`);
      finished.add(job.id);
      throw new PermanentError('customer 4711 has no e-mail address');
    },
    'send-reminder': async (job) => {
      delayedLateMs = Date.now() - job.runAt.getTime();
      outcomes.succeeded++;
      finished.add(job.id);
      log(`send-reminder: ran ${delayedLateMs} ms after its runAt`);
    },
  },
});
await worker.start();

const enqueued = await jobs.enqueueBulk([
  { name: 'send-welcome', queue, payload: { to: 'ada@example.com', flakiness: 0 } },
  { name: 'send-welcome', queue, payload: { to: 'grace@example.com', flakiness: 1 } },
  { name: 'send-welcome', queue, payload: { to: 'linus@example.com', flakiness: 2 } },
  { name: 'send-invoice', queue, payload: { invoice: 4711 } },
  { name: 'send-reminder', queue, payload: { to: 'ada@example.com' }, runAt: new Date(Date.now() + 1_500) },
]);
log(`enqueued ${enqueued.length} jobs (one of them delayed by 1.5 s)`);

// Wait until every job ran and the dead letter of the permanent failure is stored.
const deadline = Date.now() + 10_000;
let entries = await jobs.dlq.listDLQ(queue, 10);
while ((finished.size < enqueued.length || entries.length === 0) && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 20));
  entries = await jobs.dlq.listDLQ(queue, 10);
}
await jobs.close();

console.log('\nSummary');
console.log(`  succeeded:          ${outcomes.succeeded} jobs`);
console.log(`  failed attempts:    ${outcomes.failedAttempts} (retried with exponential backoff)`);
for (const j of enqueued.filter((x) => x.name === 'send-welcome')) {
  console.log(`    ${j.id.slice(-8)} send-welcome needed ${attemptsById.get(j.id)} attempt(s)`);
}
console.log(`  dead-lettered:      ${entries.length}`);
for (const e of entries) console.log(`    ${e.job.id.slice(-8)} ${e.job.name} from "${e.originalQueue}": ${e.reason}`);
console.log(`  delayed job:        ran ${delayedLateMs ?? '?'} ms after its runAt (never early)`);
const ok = outcomes.succeeded === 4 && entries.length === 1 && delayedLateMs !== undefined && delayedLateMs >= 0;
console.log(ok ? '\ndemo OK' : '\ndemo FAILED');
process.exit(ok ? 0 : 1);
