/**
 * Delayed delivery through the tier topics: never early, punctual, survives a restart,
 * hops tiers for long delays.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, makeBus, msg, plainKafka, text, topicName, waitFor } from './helpers.js';

afterEach(cleanup);

describe('kafka delayed delivery', () => {
  it('never delivers early; mixed delays across tiers arrive close to due', async () => {
    const bus = await makeBus(); // tiers 500 ms, 2 s, 5 s
    const topic = topicName('delay');
    const arrivals = new Map<string, number>();
    await bus.subscribe(topic, async (d) => void arrivals.set(text(d.message), Date.now()), { group: 'g' });
    const delays = [300, 700, 1_200, 2_500, 6_500, 0];
    const due = new Map<string, number>();
    await Promise.all(
      delays.map(async (ms, i) => {
        const at = Date.now() + ms;
        due.set(`m${i}`, at);
        await bus.publish(topic, msg(`m${i}`, `k${i}`, { job_id: String(i) }), { deliverAt: new Date(at) });
      }),
    );
    await waitFor(() => arrivals.size === delays.length, 20_000, 'all delayed messages');
    for (const [name, at] of due) {
      const late = arrivals.get(name)! - at;
      expect(late, name).toBeGreaterThanOrEqual(0);
      expect(late, name).toBeLessThan(1_000);
    }
  });

  it('a delay shorter than the smallest tier is not queued behind longer ones (held by the subscriber, never early)', async () => {
    const bus = await makeBus(); // smallest tier 500 ms
    const topic = topicName('subtier');
    const got = new Map<string, { at: number; deliveryCount: number; headers: Record<string, string> }>();
    await bus.subscribe(
      topic,
      async (d) => void got.set(text(d.message), { at: Date.now(), deliveryCount: d.deliveryCount, headers: { ...d.message.headers } }),
      { group: 'g', ordering: 'partition' }, // one lane per partition: a held message must not block past its due time
    );
    // Ahead of them in the 500 ms tier: messages released only at the end of the tier.
    const k = 'same-key'; // one partition for all of them
    await bus.publishBatch(topic, [msg('long-0', k), msg('long-1', k)], { deliverAt: new Date(Date.now() + 1_900) });
    const due = new Map<string, number>();
    for (const ms of [100, 200, 300]) {
      const at = Date.now() + ms;
      due.set(`short-${ms}`, at);
      await bus.publish(topic, msg(`short-${ms}`, k), { deliverAt: new Date(at) });
    }
    await waitFor(() => got.size === 5, 20_000, 'all five messages');
    for (const [name, at] of due) {
      const g = got.get(name)!;
      expect(g.at - at, name).toBeGreaterThanOrEqual(0);
      // Queued in the 500 ms tier behind long-0/1, short-100 would arrive ~400 ms late (measured 438).
      expect(g.at - at, name).toBeLessThan(300);
      expect(g.deliveryCount, name).toBe(1); // holding until due is not a redelivery
      expect(Object.keys(g.headers).filter((h) => h.startsWith('jobbus_')), name).toEqual([]);
    }
  });

  it('a message held by the subscriber until due counts toward maxInFlight', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    const topic = topicName('heldcap');
    const arrivals = new Map<string, number>();
    await bus.subscribe(topic, async (d) => void arrivals.set(text(d.message), Date.now()), { group: 'g', maxInFlight: 2, ordering: 'none' });
    const due = Date.now() + 400; // shorter than the smallest tier: held by the subscriber
    await bus.publishBatch(topic, [msg('held-1'), msg('held-2')], { deliverAt: new Date(due) });
    await bus.publish(topic, msg('now'));
    await waitFor(() => arrivals.size === 3, 20_000, 'all three');
    // Both slots were taken by the held messages: the immediate one waited for them.
    expect(arrivals.get('held-1')!).toBeGreaterThanOrEqual(due);
    expect(arrivals.get('now')!).toBeGreaterThanOrEqual(Math.min(arrivals.get('held-1')!, arrivals.get('held-2')!));
  });

  it('delivers the original key, value and headers without the delay headers', async () => {
    const bus = await makeBus();
    const topic = topicName('delayhdr');
    let got: { key?: string; headers: Record<string, string>; value: string } | undefined;
    await bus.subscribe(
      topic,
      async (d) => void (got = { key: d.message.key, headers: { ...d.message.headers }, value: text(d.message) }),
      { group: 'g' },
    );
    // A header named __proto__ too: it must travel through the relay as an ordinary header.
    const headers = { job_id: 'x', traceparent: 't', ...(JSON.parse('{"__proto__": "p"}') as Record<string, string>) };
    await bus.publish(topic, msg('v', 'the-key', headers), { deliverAt: new Date(Date.now() + 600) });
    await waitFor(() => got !== undefined, 20_000, 'delayed message');
    expect(got).toEqual({ key: 'the-key', headers, value: 'v' });
    expect(got!.headers['__proto__']).toBe('p');
  });

  it('a delay survives a subscriber restart (nothing waits in memory)', async () => {
    const topic = topicName('delayrestart');
    const publisher = await makeBus();
    const dueAt = Date.now() + 4_000;
    await publisher.publishBatch(
      topic,
      Array.from({ length: 20 }, (_, i) => msg(`m${i}`, `k${i}`)),
      { deliverAt: new Date(dueAt) },
    );
    // First worker: starts the relays, then goes away before anything is due.
    const w1 = await makeBus();
    const early: string[] = [];
    const sub1 = await w1.subscribe(topic, async (d) => void early.push(text(d.message)), { group: 'g' });
    await waitFor(() => Date.now() > dueAt - 2_500, 10_000, 'some waiting');
    await sub1.close();
    await w1.close();
    expect(early).toEqual([]);
    // Second worker, new process-equivalent: gets all of them, none early.
    const w2 = await makeBus();
    const got = new Map<string, number>();
    await w2.subscribe(topic, async (d) => void got.set(text(d.message), Date.now()), { group: 'g' });
    await waitFor(() => got.size === 20, 20_000, 'all 20 after restart');
    for (const at of got.values()) expect(at).toBeGreaterThanOrEqual(dueAt);
  });

  it('publishes into the largest tier not longer than the delay (no waiting beyond the remaining delay)', async () => {
    const bus = await makeBus();
    const topic = topicName('tierpick');
    await bus.publish(topic, msg('a'), { deliverAt: new Date(Date.now() + 2_300) }); // -> 2s tier
    await bus.publish(topic, msg('b'), { deliverAt: new Date(Date.now() + 60_000) }); // -> 5s tier
    await bus.publish(topic, msg('c'), { deliverAt: new Date(Date.now() + 700) }); // -> 500ms tier
    await bus.publish(topic, msg('d'), { deliverAt: new Date(Date.now() + 100) }); // < smallest tier: the topic itself
    const admin = plainKafka().admin();
    await admin.connect();
    try {
      const count = async (t: string): Promise<number> =>
        (await admin.fetchTopicOffsets(t)).reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
      const [d500, d2, d5] = bus.delayTopics(topic);
      expect(bus.delayTopics(topic)).toEqual([`${topic}.delay.500ms`, `${topic}.delay.2s`, `${topic}.delay.5s`]);
      expect(await count(d500!)).toBe(1);
      expect(await count(d2!)).toBe(1);
      expect(await count(d5!)).toBe(1);
      expect(await count(topic)).toBe(1);
    } finally {
      await admin.disconnect();
    }
  });

  it('L3: a publisher with another delay ladder cannot strand a job: the worker relays every <queue>.delay.* topic, never early', async () => {
    const topic = topicName('ladders');
    // Worker: ladder 500 ms / 2 s / 5 s, subscribed before the foreign tier topics exist.
    const worker = await makeBus({ relayDiscoveryIntervalMs: 300 });
    const got = new Map<string, number>();
    await worker.subscribe(topic, async (d) => void got.set(text(d.message), Date.now()), { group: 'g' });
    // Publisher: ladder 700 ms / 3 s -> topics <q>.delay.700ms and <q>.delay.3s, unknown to the worker's ladder.
    const publisher = await makeBus({ delayTiersMs: [700, 3_000] });
    const due = new Map<string, number>([
      ['in-700ms', Date.now() + 1_000],
      ['in-3s', Date.now() + 3_500],
    ]);
    for (const [name, at] of due) await publisher.publish(topic, msg(name, name), { deliverAt: new Date(at) });
    expect(publisher.delayTopics(topic)).toEqual([`${topic}.delay.700ms`, `${topic}.delay.3s`]);
    await waitFor(() => got.size === 2, 20_000, 'both jobs delayed through the foreign tiers');
    for (const [name, at] of due) {
      expect(got.get(name)! - at, name).toBeGreaterThanOrEqual(0);
      expect(got.get(name)! - at, name).toBeLessThan(2_000);
    }
  });
});
