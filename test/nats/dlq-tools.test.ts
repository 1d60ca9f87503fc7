/**
 * The DLQ replay's residual window on NATS: a copy stored before a crash but not marked in the
 * ledger, and no longer findable in its queue (here: the rerun reads no queue message at all),
 * is dropped by the stream's duplicate window when the rerun publishes it again (dedupId =
 * entry id), so the job still runs once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createBusDLQStore } from '../../src/bridge/dlq-store.js';
import { ledgerTopicOf } from '../../src/bridge/dlq-ledger.js';
import { H } from '../../src/headers/names.js';
import { seedDLQ, specs } from '../../src/testing/conformance/dlq-seed.js';
import { faultyBus } from '../../src/testing/conformance/faulty-bus.js';
import { elapse, waitFor } from '../../src/testing/wait.js';
import { natsScope, uniqueName } from './helpers.js';

const scope = natsScope('dlqt');
afterAll(() => scope.cleanup());

describe('NATS DLQ replay', () => {
  it('a re-published copy whose ledger mark was lost is dropped as a duplicate within the window', { timeout: 30_000 }, async () => {
    const bus = await scope.bus();
    const queue = uniqueName('dlqdedup');
    const dlq = `${queue}.dlq`;
    const seeded = await seedDLQ(bus, queue, dlq, specs(4, ['n'], ['boom']));
    const seen: string[] = [];
    const sub = await bus.subscribe(queue, async (d) => void seen.push(d.message.headers[H.id]!), { group: 'copies' });
    try {
      const crashing = createBusDLQStore(faultyBus(bus, { publishesTo: (t) => t === ledgerTopicOf(dlq), after: 1 }));
      await expect(crashing.replay(queue, {})).rejects.toThrow(/simulated crash/);
      // No queue scan: the rerun cannot tell the second copy was stored; only dedupId saves it.
      const blind = createBusDLQStore(bus, { targetScan: 0 });
      const rerun = await blind.replay(queue, {});
      expect(rerun).toMatchObject({ matched: 4, alreadyReplayed: 1, replayed: 3 });
      await waitFor(() => seen.length >= 4, 'the copies', 10_000);
      await elapse(300);
      expect(seen.sort()).toEqual(seeded.map((s) => s.job.id).sort());
      expect((await blind.list(queue)).entries).toEqual([]);
    } finally {
      await sub.close();
    }
  });
});
