/**
 * Claims of the Kafka README about delay relays that only a real broker can show: relays run
 * with a queue's subscriptions (publishers run none), and a relay commits a delay topic's offset
 * only once the forward was acknowledged. Faults through the client port.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/errors.js';
import type { ProduceRecord } from '../../src/eventbus/kafka/index.js';
import { cleanup, elapse, makeBus, msg, plainKafka, text, topicName, waitFor } from './helpers.js';
import { wrappedClient } from './wrapped-client.js';

afterEach(cleanup);

/** Groups of relays of `topic`'s delay topics, with their member counts. */
async function relayGroups(topic: string): Promise<Map<string, number>> {
  const admin = plainKafka().admin();
  await admin.connect();
  try {
    const ids = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(`jobbus.relay.${topic}.delay.`));
    const out = new Map<string, number>();
    if (ids.length === 0) return out;
    for (const g of (await admin.describeGroups(ids)).groups) out.set(g.groupId, g.members.length);
    return out;
  } finally {
    await admin.disconnect();
  }
}

/** The relay group's committed offset of partition 0 of `delayTopic` (-1: none). */
async function relayCommitted(delayTopic: string): Promise<number> {
  const admin = plainKafka().admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: `jobbus.relay.${delayTopic}`, topics: [delayTopic] });
    return Number(t?.partitions.find((p) => p.partition === 0)?.offset ?? -1);
  } finally {
    await admin.disconnect();
  }
}

/** One past the last offset of partition 0 of `topic`. */
async function endOffset(topic: string): Promise<number> {
  const admin = plainKafka().admin();
  await admin.connect();
  try {
    return Number((await admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0)!.high);
  } finally {
    await admin.disconnect();
  }
}

describe('kafka delay relays', () => {
  it('relays start with the first subscription of a queue and stop with the last; a publisher runs none', async () => {
    const topic = topicName('relaylife');
    const publisher = await makeBus();
    await publisher.publish(topic, msg('later'), { deliverAt: new Date(Date.now() + 60_000) });
    await elapse(500);
    expect([...(await relayGroups(topic)).values()].filter((n) => n > 0)).toEqual([]);

    const worker = await makeBus();
    const first = await worker.subscribe(topic, async () => undefined, { group: 'a' });
    const second = await worker.subscribe(topic, async () => undefined, { group: 'b' });
    await waitFor(async () => [...(await relayGroups(topic)).values()].some((n) => n > 0), 20_000, 'relay members');
    await first.close();
    expect([...(await relayGroups(topic)).values()].some((n) => n > 0)).toBe(true); // 'b' still subscribed
    await second.close();
    await waitFor(async () => [...(await relayGroups(topic)).values()].every((n) => n === 0), 20_000, 'relays stopped');
  });

  it('a relay commits the delay topic only after the forward was acknowledged', async () => {
    const topic = topicName('relayack');
    let failForwards = true;
    let refused = 0;
    const client = await wrappedClient({
      beforeSend(t: string, _records: readonly ProduceRecord[]) {
        if (t === topic && failForwards) {
          refused++;
          throw new UnavailableError('injected: broker unreachable for the forward');
        }
      },
    });
    const bus = await makeBus({ client, topics: { partitions: 1, replicationFactor: 1 }, relayBackoffMs: 100 });
    const got: string[] = [];
    await bus.subscribe(topic, async (d) => void got.push(text(d.message)), { group: 'g' });
    // 1.2 s: into the 500 ms tier, then forwarded to the queue by its relay.
    await bus.publish(topic, msg('delayed'), { deliverAt: new Date(Date.now() + 1_200) });
    await waitFor(() => refused >= 3, 20_000, 'forwards refused');
    // A hop inside the tier may have been committed; the record whose forward fails may not be.
    const end = await endOffset(`${topic}.delay.500ms`);
    expect(await relayCommitted(`${topic}.delay.500ms`)).toBeLessThan(end);
    expect(got).toEqual([]);
    failForwards = false;
    await waitFor(() => got.includes('delayed'), 20_000, 'the forward after the broker came back');
    await waitFor(async () => (await relayCommitted(`${topic}.delay.500ms`)) === end, 20_000, 'the relay commit after the forward');
  });
});
