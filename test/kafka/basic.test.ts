import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError, PublishRejectedError, UnavailableError, ValidationError, ClosedError } from '../../src/errors.js';
import type { Delivery } from '../../src/eventbus/types.js';
import { cleanup, makeBus, msg, plainKafka, text, topicName, waitFor } from './helpers.js';

afterEach(cleanup);

describe('kafka bus basics', () => {
  it('a message published before any subscriber existed is consumed (new groups start at earliest)', async () => {
    const bus = await makeBus();
    const topic = topicName('early');
    await bus.publishBatch(topic, [msg('a', 'k1', { job_id: '1' }), msg('b', 'k2', { job_id: '2' })]);
    const got: Delivery[] = [];
    await bus.subscribe(topic, async (d) => void got.push(d), { group: 'g' });
    await waitFor(() => got.length === 2, 20_000, 'two deliveries');
    expect(got.map((d) => text(d.message)).sort()).toEqual(['a', 'b']);
    const a = got.find((d) => text(d.message) === 'a')!;
    expect(a.message.key).toBe('k1');
    expect(a.message.headers).toEqual({ job_id: '1' });
    expect(a.deliveryCount).toBe(1);
    expect(a.position).toMatch(new RegExp(`^${topic}/\\d+@\\d+$`));
    expect(a.topic).toBe(topic);
  });

  it('creates topics with the configured partitions; keys go where murmur2 says; group id is group.topic', async () => {
    const bus = await makeBus({ topics: { partitions: 4, replicationFactor: 1 } });
    const topic = topicName('layout');
    await bus.publish(topic, msg('x', 'foobar'));
    const admin = plainKafka().admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(meta.topics[0]!.partitions).toHaveLength(4);
      // Java: toPositive(murmur2("foobar")) % 4 with murmur2("foobar") = -790332482
      const offsets = await admin.fetchTopicOffsets(topic);
      const nonEmpty = offsets.filter((o) => o.high !== '0').map((o) => o.partition);
      expect(nonEmpty).toEqual([(-790332482 & 0x7fffffff) % 4]);
      const sub = await bus.subscribe(topic, async () => undefined, { group: 'grp' });
      const groups = await admin.listGroups();
      expect(groups.groups.map((g) => g.groupId)).toContain(`grp.${topic}`);
      await sub.close();
    } finally {
      await admin.disconnect();
    }
  });

  it('a publish resolves only once the broker acknowledged the records (high watermark already counts them)', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    const topic = topicName('acked');
    await bus.publish(topic, msg('first'));
    const admin = plainKafka().admin();
    await admin.connect();
    try {
      for (let i = 1; i <= 5; i++) {
        await bus.publishBatch(topic, [msg(`a${i}`), msg(`b${i}`)]);
        // Read right after the publish resolved, no waiting: acks = all means committed.
        const [p0] = await admin.fetchTopicOffsets(topic);
        expect(Number(p0!.high)).toBe(1 + 2 * i);
      }
    } finally {
      await admin.disconnect();
    }
  });

  it('autoCreateTopics: false names the missing topic (a publish is rejected for good, D3)', async () => {
    const bus = await makeBus({ autoCreateTopics: false });
    const topic = topicName('missing');
    const err = await bus.publish(topic, msg('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishRejectedError);
    expect((err as Error).cause).toBeInstanceOf(NotFoundError);
    expect(String((err as Error).message)).toContain(topic);
  });

  it('healthCheck passes on the cluster and fails typed on a dead address; close is idempotent', async () => {
    const bus = await makeBus();
    await bus.healthCheck();
    const dead = await makeBus({ brokers: ['127.0.0.1:1'], connectionTimeoutMs: 300, requestTimeoutMs: 1_000 });
    const err = await dead.healthCheck().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).cause).toBeDefined();
    await bus.close();
    await bus.close();
    await expect(bus.publish('x', msg('y'))).rejects.toBeInstanceOf(ClosedError);
    await expect(bus.healthCheck()).rejects.toBeInstanceOf(ClosedError);
  });

  it('validates arguments', async () => {
    const bus = await makeBus();
    await expect(bus.publish('bad topic!', msg('x'))).rejects.toBeInstanceOf(ValidationError);
    // Subscribe options are checked by the shared kernel (eventbus/delivery.ts): one error class on every bus.
    await expect(bus.subscribe(topicName('v'), async () => undefined, { group: '' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(bus.subscribe(topicName('v'), async () => undefined, { group: 'a group' })).rejects.toThrow(/consumer group matching/);
    const tooMany = bus.subscribe(topicName('v'), async () => undefined, { group: 'g', maxInFlight: 0 });
    await expect(tooMany).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(tooMany).rejects.toThrow(/maxInFlight/);
  });
});
