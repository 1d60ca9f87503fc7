/**
 * Queue stats through the face on one bus: jobs held in flight by a worker, jobs waiting behind
 * them, delayed jobs and a dead letter, each counted from the broker alone. Run per bus by
 * changing only the bus; counts a bus cannot tell are skipped via `target.tells`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createJobbus, PermanentError, type EventBus, type Jobbus, type QueueStats } from '../../src/index.js';
import { deferred, waitFor } from '../../src/testing/wait.js';

/** A fresh bus, a unique queue name per test, and what the bus can count. */
export interface StatsTarget {
  makeBus(): Promise<EventBus>;
  queue(prefix: string): string;
  /** Longest the counts may take to converge (group joins, lagging commits), ms. */
  readonly convergeMs: number;
  /** Whether the bus tells `inFlight` (else they count as waiting), `delayed` and `oldestWaitingAt`. */
  readonly tells: { readonly inFlight: boolean; readonly delayed: boolean; readonly oldest: boolean };
}

/** Register the stats cases for one bus. */
export function statsCases(name: string, target: StatsTarget): void {
  describe(`jobs.stats on ${name}`, () => {
    const open: Jobbus[] = [];
    afterEach(async () => {
      await Promise.allSettled(open.splice(0).map((j) => j.close()));
    });

    it('counts waiting, in flight, delayed and dead-lettered jobs, then the drain', async () => {
      const queue = target.queue('stats');
      const release = deferred();
      let running = 0;
      // prefetch 2: the bus hands the worker at most two jobs, so the rest wait on the broker.
      const jobs = createJobbus({ bus: await target.makeBus(), prefetch: 2, ackTimeoutMs: 10_000 });
      open.push(jobs);
      const one = async (): Promise<QueueStats> => (await jobs.stats([queue]))[0]!;
      await jobs
        .worker({
          queues: [queue],
          concurrency: 2,
          handlers: {
            dead: () => {
              throw new PermanentError('no');
            },
            hold: async () => {
              running++;
              await release.promise;
            },
          },
        })
        .start();

      await jobs.enqueue({ name: 'dead', queue, payload: 0 });
      await waitFor(async () => (await one()).dlqSize === 1, 'the dead letter to be counted', target.convergeMs);
      const firstAt = Date.now();
      for (let i = 0; i < 5; i++) await jobs.enqueue({ name: 'hold', queue, payload: i });
      await jobs.enqueue({ name: 'hold', queue, payload: 'later', runAt: new Date(Date.now() + 120_000) });
      await jobs.enqueue({ name: 'hold', queue, payload: 'later', runAt: new Date(Date.now() + 120_000) });
      await waitFor(() => running === 2, 'two jobs to be held', target.convergeMs);

      // A bus that cannot tell in-flight jobs from waiting ones (Kafka: only commits count) counts them as waiting.
      const waiting = target.tells.inFlight ? 3 : 5;
      const held = await waitFor(async () => {
        const s = await one();
        const ok = s.waiting === waiting && (!target.tells.inFlight || s.inFlight === 2) && (!target.tells.delayed || s.delayed === 2);
        return ok ? s : undefined;
      }, `the counts with two held, ${waiting} waiting, two delayed`, target.convergeMs);
      expect(held).toMatchObject({ queue, group: 'jobbus', dlqSize: 1 });
      expect(held.dlq).not.toBe(queue);
      if (target.tells.oldest) {
        // The third job waits; broker clocks round, so a second of slack each side.
        expect(held.oldestWaitingAt!.getTime()).toBeGreaterThanOrEqual(firstAt - 1_000);
        expect(held.oldestWaitingAt!.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
      } else {
        expect(held.oldestWaitingAt).toBeUndefined();
      }

      release.resolve();
      await waitFor(() => running === 5, 'the waiting jobs to run', target.convergeMs);
      const drained = await waitFor(async () => {
        const s = await one();
        return s.waiting === 0 && (s.inFlight ?? 0) === 0 ? s : undefined;
      }, 'the queue to drain', target.convergeMs);
      expect(drained.dlqSize).toBe(1);
      expect(drained.oldestWaitingAt).toBeUndefined();
      if (target.tells.delayed) expect(drained.delayed).toBe(2);
    });
  });
}
