/**
 * Consumer groups on the real broker: partitions split between members, a member joining and
 * leaving loses nothing, and a handler longer than the session timeout causes no rebalance.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, elapse, makeBus, msg, plainKafka, topicName, waitFor } from './helpers.js';

afterEach(cleanup);

async function groupMembers(groupId: string): Promise<{ memberId: string; clientHost: string }[]> {
  const admin = plainKafka().admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    return groups[0]?.members.map((m) => ({ memberId: m.memberId, clientHost: m.clientHost })) ?? [];
  } finally {
    await admin.disconnect();
  }
}

describe('kafka consumer groups', () => {
  it('two members split the partitions; a third joining and leaving loses no message', { timeout: 90_000 }, async () => {
    const opts = { topics: { partitions: 4, replicationFactor: 1 } };
    const topic = topicName('group');
    const publisher = await makeBus(opts);
    const seen = new Map<string, Set<number>>([['a', new Set()], ['b', new Set()], ['c', new Set()]]);
    const all = new Set<number>();
    let deliveries = 0;
    const handler = (who: string) => async (d: { message: { value: Uint8Array } }) => {
      await elapse(3);
      const n = Number(new TextDecoder().decode(d.message.value));
      seen.get(who)!.add(n);
      all.add(n);
      deliveries++;
    };
    const a = await makeBus(opts);
    const b = await makeBus(opts);
    await a.subscribe(topic, handler('a'), { group: 'g', maxInFlight: 8 });
    await b.subscribe(topic, handler('b'), { group: 'g', maxInFlight: 8 });
    await waitFor(async () => (await groupMembers(`g.${topic}`)).length === 2, 20_000, 'two members');

    let next = 0;
    const publishSome = async (n: number): Promise<void> => {
      const batch = Array.from({ length: n }, () => next++).map((i) => msg(String(i), `key-${i % 50}`));
      await publisher.publishBatch(topic, batch);
    };
    await publishSome(200);
    await waitFor(() => all.size === 200, 30_000, 'first 200');
    expect(seen.get('a')!.size).toBeGreaterThan(0);
    expect(seen.get('b')!.size).toBeGreaterThan(0);

    // A third member joins while messages flow, then leaves while messages flow.
    const c = await makeBus(opts);
    const pumping = (async () => {
      for (let i = 0; i < 20; i++) {
        await publishSome(20);
        await elapse(100);
      }
    })();
    const subC = await c.subscribe(topic, handler('c'), { group: 'g', maxInFlight: 8 });
    await waitFor(() => seen.get('c')!.size > 0, 30_000, 'the third member to receive');
    await subC.close();
    await pumping;
    await publishSome(100);
    await waitFor(() => all.size === next, 40_000, `all ${next} messages`);
    for (let i = 0; i < next; i++) expect(all.has(i)).toBe(true);
    // Duplicates only from rebalances, bounded by what was in flight / uncommitted.
    console.info(`[kafka group test] ${next} messages, ${deliveries - next} duplicate deliveries`);
    expect(deliveries - next).toBeLessThan(3 * 4 * 8 + 50);
  });

  it('a rebalance while handlers are in flight: settles after revocation neither throw nor lose anything', { timeout: 90_000 }, async () => {
    const opts = { topics: { partitions: 2, replicationFactor: 1 } };
    const topic = topicName('revoke');
    const a = await makeBus(opts);
    const b = await makeBus(opts);
    const deliveries: string[] = [];
    let aRunning = 0;
    await a.publishBatch(topic, Array.from({ length: 8 }, (_, i) => msg(`m${i}`, `k${i}`)));
    await a.subscribe(
      topic,
      async (d) => {
        aRunning++;
        deliveries.push(`a:${new TextDecoder().decode(d.message.value)}`);
        await elapse(3_000); // still running when the group rebalances
        aRunning--;
      },
      { group: 'g', maxInFlight: 8 },
    );
    await waitFor(() => aRunning === 8, 20_000, 'a to hold all 8 in flight');
    await b.subscribe(topic, async (d) => void deliveries.push(`b:${new TextDecoder().decode(d.message.value)}`), { group: 'g' });
    const distinct = (): number => new Set(deliveries.map((x) => x.split(':')[1])).size;
    await waitFor(() => distinct() === 8 && aRunning === 0, 30_000, 'every message settled somewhere');
    // Duplicates are bounded by what was in flight at the rebalance.
    expect(deliveries.length).toBeLessThanOrEqual(16);
    // In the end the group's committed offsets reach the end of both partitions.
    const admin = plainKafka().admin();
    await admin.connect();
    try {
      await waitFor(
        async () => {
          const [committed] = await admin.fetchOffsets({ groupId: `g.${topic}`, topics: [topic] });
          const high = await admin.fetchTopicOffsets(topic);
          return high.every((h) => committed!.partitions.find((p) => p.partition === h.partition)?.offset === h.high);
        },
        20_000,
        'commits up to the end',
      );
    } finally {
      await admin.disconnect();
    }
  });

  it('revocation at the cap drains in-flight handlers and commits them before rejoining: no duplicates', { timeout: 90_000 }, async () => {
    const opts = { topics: { partitions: 2, replicationFactor: 1 } };
    const topic = topicName('drain');
    const a = await makeBus(opts);
    const b = await makeBus(opts);
    const deliveries: string[] = [];
    await a.publishBatch(topic, Array.from({ length: 12 }, (_, i) => msg(`m${i}`, `k${i}`)));
    const handler = (who: string) => async (d: { message: { value: Uint8Array } }) => {
      deliveries.push(`${who}:${new TextDecoder().decode(d.message.value)}`);
      await elapse(700);
    };
    // maxInFlight 2 with 12 waiting: A's batches wait at the cap, heartbeating from eachBatch.
    await a.subscribe(topic, handler('a'), { group: 'g', maxInFlight: 2 });
    await waitFor(() => deliveries.length >= 2, 20_000, 'a to start');
    await b.subscribe(topic, handler('b'), { group: 'g', maxInFlight: 2 });
    await waitFor(() => new Set(deliveries.map((x) => x.split(':')[1])).size === 12, 40_000, 'all 12');
    await elapse(1_000); // a late duplicate would show up within this
    expect(deliveries.filter((x) => x.startsWith('b:')).length).toBeGreaterThan(0); // B did take a partition
    expect(deliveries).toHaveLength(12);
  });

  // maxInFlight 16: the fetch loop keeps polling (and heartbeating) beside the long job.
  // maxInFlight 1: the batch holding the next message waits at the cap inside eachBatch, and
  // the adapter's own heartbeats keep the member alive.
  it.each([16, 1])(
    'a handler running longer than the session timeout (calling working()) causes no rebalance and no duplicate (maxInFlight %i)',
    { timeout: 90_000 },
    async (maxInFlight) => {
      const opts = { topics: { partitions: 2, replicationFactor: 1 } }; // session timeout 6 s in fastOptions
      const topic = topicName('long');
      const a = await makeBus(opts);
      const b = await makeBus(opts);
      const runs: string[] = [];
      const handler = (who: string) => async (d: { message: { value: Uint8Array }; working(): void }) => {
        const v = new TextDecoder().decode(d.message.value);
        runs.push(`${who}:${v}`);
        if (v === 'long') {
          for (let i = 0; i < 15; i++) {
            await elapse(1_000);
            d.working();
          }
        }
      };
      await a.subscribe(topic, handler('a'), { group: 'g', ackTimeoutMs: 5_000, maxInFlight });
      await b.subscribe(topic, handler('b'), { group: 'g', ackTimeoutMs: 5_000, maxInFlight });
      await waitFor(async () => (await groupMembers(`g.${topic}`)).length === 2, 20_000, 'two members');
      const before = (await groupMembers(`g.${topic}`)).map((m) => m.memberId).sort();
      await a.publish(topic, msg('long', 'the-key'));
      await waitFor(() => runs.some((r) => r.endsWith(':long')), 20_000, 'the long job to start');
      // Same key, so same partition and member: it must wait for the long one (key order).
      await a.publish(topic, msg('short', 'the-key'));
      await waitFor(() => runs.some((r) => r.endsWith(':short')), 40_000, 'the short job after the long one');
      const after = (await groupMembers(`g.${topic}`)).map((m) => m.memberId).sort();
      expect(runs).toHaveLength(2);
      expect(runs[0]!.endsWith(':long')).toBe(true);
      expect(runs[1]!.split(':')[0]).toBe(runs[0]!.split(':')[0]);
      expect(after).toEqual(before); // nobody was kicked out and rejoined
    },
  );
});
