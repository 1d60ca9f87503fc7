/**
 * The face on one bus: what a newcomer does first (five lines), typed jobs, the DLQ, health and
 * close. Run on memory, Kafka and NATS by changing only the bus.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ClosedError,
  createJobbus,
  defineJob,
  PermanentError,
  payloadOf,
  prefixQueueNames,
  SchemaError,
  type EventBus,
  type Jobbus,
  type JobbusOptions,
  type Job,
} from '../../src/index.js';
import { forgetDefinition, type BrowsableBus } from '../../src/advanced.js';
import { waitFor } from '../../src/testing/wait.js';

/** A fresh bus and a unique queue name per test. */
export interface FaceTarget {
  makeBus(): Promise<EventBus>;
  queue(prefix: string): string;
  /** Longest a job may take to arrive on this bus (group joins, delay tiers), ms. */
  readonly arrivalMs: number;
}

/** Register the face cases for one bus. */
export function faceCases(name: string, target: FaceTarget): void {
  describe(`createJobbus on ${name}`, () => {
    const open: Jobbus[] = [];
    const defined: string[] = [];
    afterEach(async () => {
      await Promise.allSettled(open.splice(0).map((j) => j.close()));
      for (const d of defined.splice(0)) forgetDefinition(d);
    });
    async function jobbus(extra: Omit<JobbusOptions, 'bus'> = {}): Promise<Jobbus> {
      const jobs = createJobbus({ bus: await target.makeBus(), ackTimeoutMs: 5_000, ...extra });
      open.push(jobs);
      return jobs;
    }

    it('runs a job enqueued in five lines', async () => {
      const queue = target.queue('five');
      const seen: unknown[] = [];
      const jobs = await jobbus();
      const worker = jobs.worker({ queues: [queue], handlers: { welcome: async (job) => void seen.push(payloadOf(job)) } });
      await worker.start();
      await jobs.enqueue({ name: 'welcome', queue, payload: { to: 'ada@example.com' } });
      await waitFor(() => seen.length === 1, 'the job to run', target.arrivalMs);
      expect(seen).toEqual([{ to: 'ada@example.com' }]);
    });

    it('enqueues typed jobs (now, delayed, bulk), refuses an invalid payload, and the worker takes its queues from the definitions', async () => {
      const queue = target.queue('typed');
      const got: { n: number; at: number; job: Job }[] = [];
      const def = defineJob({
        name: `${queue}-count`,
        queue,
        schema: z.object({ n: z.number().int() }),
        handler: async ({ n }, ctx) => void got.push({ n, at: Date.now(), job: ctx.job }),
      });
      defined.push(def.name);
      const jobs = await jobbus();
      await jobs.worker({ definitions: [def] }).start();
      await expect(jobs.enqueue(def, { n: 1.5 })).rejects.toBeInstanceOf(SchemaError);
      await jobs.enqueue(def, { n: 1 });
      const delayed = await jobs.enqueue(def, { n: 2 }, { delayMs: 1_200 });
      await jobs.enqueueBulk(def, [{ payload: { n: 3 } }, { payload: { n: 4 } }]);
      await waitFor(() => got.length === 4, 'four typed jobs to run', target.arrivalMs + 1_200);
      expect(got.map((g) => g.n).sort()).toEqual([1, 2, 3, 4]);
      const ran = got.find((g) => g.n === 2)!;
      expect(ran.at).toBeGreaterThanOrEqual(delayed.runAt.getTime());
      expect(ran.job.id).toBe(delayed.id);
    });

    it('dead-letters a job that fails permanently, listed by jobs.dlq with its reason', async () => {
      const queue = target.queue('dead');
      const jobs = await jobbus();
      await jobs
        .worker({
          queues: [queue],
          handlers: {
            invoice: () => {
              throw new PermanentError('customer has no e-mail address');
            },
          },
        })
        .start();
      const job = await jobs.enqueue({ name: 'invoice', queue, payload: { id: 4711 } });
      const entries = await waitFor(async () => {
        const list = await jobs.dlq.listDLQ(queue, 10);
        return list.length > 0 ? list : undefined;
      }, 'the dead letter', target.arrivalMs);
      expect(entries).toHaveLength(1);
      expect(entries[0]!.job.id).toBe(job.id);
      expect(entries[0]!.reason).toContain('customer has no e-mail address');
    });

    it('names DLQs as told: prefixQueueNames("dlq.") dead-letters to dlq.<queue>, which jobs.dlq lists', async () => {
      const queue = target.queue('named');
      const jobs = await jobbus({ names: prefixQueueNames('dlq.') });
      await jobs
        .worker({
          queues: [queue],
          handlers: {
            bad: () => {
              throw new PermanentError('no');
            },
          },
        })
        .start();
      const job = await jobs.enqueue({ name: 'bad', queue, payload: 1 });
      await waitFor(async () => (await jobs.dlq.listDLQ(queue, 10)).length === 1, 'the dead letter', target.arrivalMs);
      const browsable = jobs.bus as Partial<BrowsableBus>;
      const stored = await browsable.browse!(`dlq.${queue}`, 10);
      expect(stored.map((m) => m.headers['job_id'])).toEqual([job.id]);
      expect(await browsable.browse!(`${queue}.dlq`, 10)).toEqual([]);
    });

    it('reports health, and close() stops the workers and refuses further use', async () => {
      const queue = target.queue('close');
      const jobs = await jobbus();
      const worker = jobs.worker({ queues: [queue], handlers: { noop: () => undefined } });
      await worker.start();
      const health = await jobs.health();
      expect(health.status).toBe('up');
      expect(health.checks.map((c) => c.name)).toEqual(['jobbus-bus', 'jobbus-leases']);
      await jobs.close();
      await expect(jobs.enqueue({ name: 'noop', queue, payload: {} })).rejects.toBeInstanceOf(ClosedError);
      expect(() => jobs.worker({ queues: [queue] })).toThrow(ClosedError);
      await expect(worker.start()).rejects.toThrow();
    });
  });
}
