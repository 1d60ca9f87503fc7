/**
 * The DLQ tools on Kafka: a replay of N entries reads the DLQ topic a bounded number of times
 * (counted through a wrapping client port), replayed and purged entries never reappear in
 * listings or in the topic, and byte-identical copies (as an interrupted removal's re-append
 * leaves them) are one entry, replayed once and removed together.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createBusDLQStore } from '../../src/bridge/dlq-store.js';
import { ledgerTopicOf } from '../../src/bridge/dlq-ledger.js';
import { createJob } from '../../src/jobs/job.js';
import { encodeJob } from '../../src/headers/codec.js';
import { deadLetterMessage } from '../../src/headers/dead-letter.js';
import { seedDLQ, specs } from '../../src/testing/conformance/dlq-seed.js';
import { cleanup, makeBus, topicName } from './helpers.js';
import { wrappedClient } from './wrapped-client.js';

afterEach(cleanup);

describe('kafka DLQ tools', () => {
  it('replays 40 of 50 entries with a bounded number of reads of the DLQ topic; replayed and purged entries never reappear', { timeout: 90_000 }, async () => {
    const reads = new Map<string, number>();
    const client = await wrappedClient({ onRead: (topic) => reads.set(topic, (reads.get(topic) ?? 0) + 1) });
    const bus = await makeBus({ client });
    const queue = topicName('dlqtools');
    const dlq = `${queue}.dlq`;
    const store = createBusDLQStore(bus);
    const seeded = await seedDLQ(bus, queue, dlq, specs(50, ['k'], ['boom']));

    reads.clear();
    const ids = seeded.slice(0, 40).map((s) => s.job.id);
    const report = await store.replay(queue, { ids });
    expect(report).toMatchObject({ matched: 40, replayed: 40, alreadyReplayed: 0 });
    // One browse, one removal pass: not one read per entry.
    expect(reads.get(dlq) ?? 0).toBeGreaterThanOrEqual(1); // the counting sees the reads
    expect(reads.get(dlq) ?? 0).toBeLessThanOrEqual(3);

    const listed = async (): Promise<string[]> => (await store.list(queue, { limit: 100 })).entries.map((e) => e.job.id).sort();
    const rest = seeded.slice(40).map((s) => s.job.id).sort();
    expect(await listed()).toEqual(rest);
    expect((await bus.browse(dlq, 1_000)).length).toBe(10); // cut from the topic, not just hidden
    expect(await bus.browse(ledgerTopicOf(dlq), 1_000)).toEqual([]);
    expect(await store.purge(queue, { ids: rest.slice(0, 5) })).toEqual({ matched: 5, purged: 5 });
    expect(await listed()).toEqual(rest.slice(5));
    expect((await bus.browse(dlq, 1_000)).length).toBe(5);
    expect(await store.replay(queue, { ids })).toMatchObject({ matched: 0, replayed: 0 });
    expect(await listed()).toEqual(rest.slice(5));
  });

  it('byte-identical copies of an entry are one entry: listed once, replayed once, removed together', { timeout: 60_000 }, async () => {
    const bus = await makeBus();
    const queue = topicName('dlqdup');
    const dlq = `${queue}.dlq`;
    const store = createBusDLQStore(bus);
    const job = createJob({ name: 'd', queue, payload: 'twice' });
    const copy = deadLetterMessage(encodeJob(job), queue, 'boom', new Date());
    await bus.publish(dlq, copy);
    await bus.publish(dlq, copy);
    const page = await store.list(queue);
    expect(page.entries.map((e) => e.job.id)).toEqual([job.id]);
    expect(await store.replay(queue, {})).toMatchObject({ matched: 1, replayed: 1 });
    expect((await bus.browse(queue, 10)).length).toBe(1);
    expect(await bus.browse(dlq, 10)).toEqual([]);
  });
});
