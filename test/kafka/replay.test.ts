/**
 * U1 on the real broker: settled offsets above a stuck one travel in the commit metadata and are
 * not delivered again after a crash, and a partition stops being fetched past maxOffsetSpan.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeSettled } from '../../src/eventbus/kafka/offset-metadata.js';
import type { KafkaSubscription } from '../../src/eventbus/kafka/subscription.js';
import type { Delivery } from '../../src/eventbus/types.js';
import { faultyClient } from './faulty-client.js';
import { cleanup, elapse, makeBus, msg, plainKafka, text, topicName, waitFor } from './helpers.js';

afterEach(cleanup);

const opts = { topics: { partitions: 1, replicationFactor: 1 } };

async function committedOf(groupId: string, topic: string): Promise<{ offset: number; metadata: string }> {
  const admin = plainKafka().admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const p = t?.partitions.find((x) => x.partition === 0);
    return { offset: Number(p?.offset ?? -1), metadata: p?.metadata ?? '' };
  } finally {
    await admin.disconnect();
  }
}

describe('kafka crash replay (U1)', () => {
  it('U1: after a crash only the stuck message (+ what was in flight) is delivered again, not the 2,000 settled after it', { timeout: 90_000 }, async () => {
    const topic = topicName('replay');
    const N = 2_000;
    const publisher = await makeBus(opts);
    await publisher.publish(topic, msg('stuck', 'k-stuck'));
    await publisher.publishBatch(topic, Array.from({ length: N }, (_, i) => msg(`m${i}`, `k${i % 97}`)));

    // Member A: runs everything but the stuck one, whose handler never returns.
    const { client, faults } = await faultyClient('jobbus-test-replay-a');
    const a = await makeBus({ ...opts, client });
    let doneA = 0;
    await a.subscribe(
      topic,
      (d: Delivery) => {
        if (text(d.message) === 'stuck') return new Promise<void>(() => {});
        doneA++;
        return Promise.resolve();
      },
      { group: 'g', maxInFlight: 32 },
    );
    await waitFor(() => doneA === N, 60_000, `member A to run all ${N}`);
    // The group's commit stays at the stuck offset; its metadata names the N settled above it.
    await waitFor(
      async () => {
        const c = await committedOf(`g.${topic}`, topic);
        return c.offset === 0 && decodeSettled(c.metadata, 0)?.count === N;
      },
      20_000,
      'the commit metadata naming every settled offset',
    );
    // Crash: nothing more reaches the group, the member goes away without settling the stuck one.
    faults.freezeCommits = true;
    await a.close();

    const b = await makeBus(opts);
    const redelivered: string[] = [];
    await b.subscribe(
      topic,
      async (d: Delivery) => {
        redelivered.push(text(d.message));
      },
      { group: 'g', maxInFlight: 32 },
    );
    // B has passed the whole partition once its commit reaches the end.
    await waitFor(async () => (await committedOf(`g.${topic}`, topic)).offset === N + 1, 30_000, 'member B to commit the end');
    // In flight at the crash: only the stuck one (the others were settled and in the metadata).
    expect(redelivered).toEqual(['stuck']);
    console.info(`[kafka replay test] ${redelivered.length} delivered again after the crash (of ${N + 1})`);
  });

  it('U1: a stuck message stops its partition at maxOffsetSpan (bounded memory), and it resumes when it settles', { timeout: 60_000 }, async () => {
    const topic = topicName('span');
    const publisher = await makeBus(opts);
    await publisher.publish(topic, msg('stuck', 'k-stuck'));
    await publisher.publishBatch(topic, Array.from({ length: 1_000 }, (_, i) => msg(`m${i}`, `k${i % 31}`)));
    const bus = await makeBus({ ...opts, maxOffsetSpan: 100 });
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    let done = 0;
    const sub = (await bus.subscribe(
      topic,
      (d: Delivery) => {
        if (text(d.message) === 'stuck') return stuck;
        done++;
        return Promise.resolve();
      },
      { group: 'g', maxInFlight: 16 },
    )) as KafkaSubscription;
    await waitFor(() => done === 99, 30_000, 'the 99 messages inside the span');
    // Let fetches happen: nothing past the span may be admitted while the stuck one runs.
    await elapse(1_500);
    expect(done).toBe(99);
    expect(sub.span()).toBeLessThanOrEqual(100);
    release();
    await waitFor(() => done === 1_000, 30_000, 'everything after the stuck one settled');
  });
});
