/**
 * The interrupted replay: a replay that dies at any point (before a copy is published, after a
 * copy is stored but before its ledger mark, before the DLQ removal, or aborted by its signal)
 * and is then run again on the plain bus runs every entry exactly once and leaves nothing
 * behind: not in the DLQ, not in its ledger. Both ways of publishing: one copy at a time
 * (rate-limited) and in batches (unlimited), where a crash cuts a batch short.
 */
import { createBusDLQStore } from '../../bridge/dlq-store.js';
import { ledgerTopicOf } from '../../bridge/dlq-ledger.js';
import { isBrowsable } from '../../eventbus/types.js';
import type { DLQReplayOptions } from '../../jobs/types.js';
import { elapse, waitFor } from '../wait.js';
import type { ConformanceContext } from './context.js';
import { seedDLQ, specs } from './dlq-seed.js';
import { recordRuns } from './dlq-tools.js';
import { faultyBus, type CrashPlan } from './faulty-bus.js';

/** What is seen after an interrupted replay of 5 entries. */
interface Outcome {
  /** Entries the interrupted run leaves listed. */
  readonly listedAfter: number;
  /** Entries the rerun matches (those the interrupted run removed are gone). Default 5. */
  readonly matched?: number;
  /** alreadyReplayed of the rerun, where every bus must tell it (absent: only the sum is checked). */
  readonly already?: number;
}

/** One way to interrupt a replay of 5 entries, and its outcome one copy at a time and in one batch. */
interface Interruption {
  readonly title: string;
  /** The crash, given the queue and DLQ names (absent: abort by signal after 2 copies). */
  plan?(queue: string, dlq: string): CrashPlan;
  readonly single: Outcome;
  /** Absent: not a batch case. */
  readonly batched?: Outcome;
}

// Where a copy is stored but not marked, the rerun finds it by its job_replay_of header in the
// queue (or, on NATS once consumed, the stream drops its re-publish by dedupId): runs once
// either way, so only the sum is checked there.
const INTERRUPTIONS: readonly Interruption[] = [
  { title: 'before the third copy is published', plan: (queue) => ({ publishesTo: (t) => t === queue, after: 2 }), single: { listedAfter: 3, already: 2 }, batched: { listedAfter: 5 } },
  { title: 'after the third copy is stored, before its ledger mark', plan: (_q, dlq) => ({ publishesTo: (t) => t === ledgerTopicOf(dlq), after: 2 }), single: { listedAfter: 3 }, batched: { listedAfter: 3 } },
  { title: 'before the entries are removed from the DLQ', plan: (_q, dlq) => ({ removeFrom: (t) => t === dlq }), single: { listedAfter: 0, already: 5 }, batched: { listedAfter: 0, already: 5 } },
  { title: 'by its AbortSignal after two copies (it still removes those two)', single: { listedAfter: 3, matched: 3, already: 0 } },
];

/** Register the interrupted-replay cases (inside the suite's describe). */
export function dlqCrashCases(ctx: ConformanceContext): void {
  const { it, expect, patience, queueName, newBus } = ctx;

  for (const x of INTERRUPTIONS) {
    for (const mode of ['one copy at a time', 'in one batch'] as const) {
      const out = mode === 'in one batch' ? x.batched : x.single;
      if (!out) continue;
      it(`DLQ replay (${mode}) interrupted ${x.title}: the rerun replays every entry exactly once and leaves nothing behind`, async () => {
        const bus = await newBus();
        if (!isBrowsable(bus)) return; // the DLQ store needs a browsable bus
        const queue = queueName('dlqcrash');
        const dlq = `${queue}.dlq`;
        const seeded = await seedDLQ(bus, queue, dlq, specs(5, ['c'], ['boom']));
        const runs = await recordRuns(ctx, bus, queue, ['c']);

        const controller = new AbortController();
        const options: DLQReplayOptions = {
          ...(mode === 'one copy at a time' && { ratePerSecond: 1_000 }),
          ...(!x.plan && { signal: controller.signal, onProgress: (p) => p.done === 2 && controller.abort() }),
        };
        const crashing = createBusDLQStore(x.plan ? faultyBus(bus, x.plan(queue, dlq)) : bus);
        let failure = 'none';
        await crashing.replay(queue, {}, options).catch((err: unknown) => (failure = String(err)));
        expect(failure).toMatch(x.plan ? /simulated crash/ : /abort/i);

        const plain = createBusDLQStore(bus);
        expect((await plain.list(queue)).entries).toHaveLength(out.listedAfter);
        const rerun = await plain.replay(queue, {});
        expect(rerun.matched).toBe(out.matched ?? 5);
        expect(rerun.replayed + rerun.alreadyReplayed).toBe(out.matched ?? 5);
        if (out.already !== undefined) expect(rerun.alreadyReplayed).toBe(out.already);

        await waitFor(() => seeded.every((s) => runs.get(s.job.id)), 'every entry to run', patience);
        await elapse(300); // a duplicate would arrive about as fast as the copies did
        expect(seeded.map((s) => runs.get(s.job.id)!.length)).toEqual([1, 1, 1, 1, 1]);
        expect((await plain.list(queue)).entries).toHaveLength(0);
        expect(await bus.browse(dlq, 100)).toHaveLength(0);
        expect(await bus.browse(ledgerTopicOf(dlq), 100)).toHaveLength(0);
        expect(await plain.replay(queue, {})).toMatchObject({ matched: 0, replayed: 0, alreadyReplayed: 0 });
      });
    }
  }
}
