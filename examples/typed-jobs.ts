/**
 * A typed job with a zod schema, middleware and hooks, on the in-memory bus.
 * Run: npx tsx examples/typed-jobs.ts
 */
import { z } from 'zod';
import { createJobbus, currentJob, defineJob, RetryLaterError, SchemaError } from 'jobbus';

let warmups = 0;

// The payload type flows from the schema into enqueue() and into the handler.
const resizeImage = defineJob({
  name: 'resize-image',
  queue: 'media',
  schema: z.object({ url: z.url(), width: z.number().int().positive().max(4096) }),
  maxAttempts: 4,
  timeoutMs: 5_000,
  backoff: { type: 'exponential', initialMs: 50, maxMs: 500 },
  rateLimit: { max: 20, perMs: 1_000 },
  handler: async ({ url, width }) => {
    // "Not ready yet" reschedules without spending one of the 4 attempts.
    if (width > 1000 && warmups++ < 2) throw new RetryLaterError(100, 'thumbnail service warming up');
    await audit(`resized ${url} to ${width}px`);
  },
});

// Any code the handler calls can see the current job (AsyncLocalStorage).
async function audit(line: string): Promise<void> {
  const job = currentJob();
  console.log(`  [job ${job?.job.id.slice(-8)} attempt ${job?.attempt} corr=${job?.job.correlationId}] ${line}`);
}

const jobs = createJobbus();
const worker = jobs.worker({ queues: [{ name: 'media', priority: 1, concurrency: 4 }], definitions: [resizeImage] }, {
  hooks: {
    onCompleted: (job, { durationMs }) => console.log(`  completed ${job.name} in ${durationMs} ms`),
    onRescheduled: (job, { delayMs, reason }) => console.log(`  rescheduled ${job.name} in ${delayMs} ms: ${reason}`),
    onDead: (job, { reason }) => console.log(`  dead ${job.name}: ${reason}`),
  },
});
// Middleware: times every handler call and could short-circuit by not calling next().
worker.use(async (ctx, next) => {
  const started = performance.now();
  await next();
  ctx.logger.info({ ms: performance.now() - started }, 'handler finished');
});
await worker.start();

console.log('enqueue two valid jobs and one invalid one:');
await jobs.enqueue(resizeImage, { url: 'https://example.com/a.png', width: 640 }, { correlationId: 'req-1' });
await jobs.enqueue(resizeImage, { url: 'https://example.com/b.png', width: 2048 }, { delayMs: 200, correlationId: 'req-2' });
try {
  await jobs.enqueue(resizeImage, { url: 'not a url', width: -3 });
} catch (err) {
  if (err instanceof SchemaError) console.log(`  refused at enqueue: ${err.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
}

await new Promise((r) => setTimeout(r, 800));
await jobs.close();
