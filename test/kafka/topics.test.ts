/**
 * D6: the topics the bus creates carry a documented retention, overridable per bus.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_RETENTION_MS } from '../../src/eventbus/kafka/topics.js';
import { cleanup, makeBus, msg, topicName } from './helpers.js';
import { createSmallTopic, topicConfig } from './topic-config.js';

afterEach(cleanup);

describe('kafka topic retention', () => {
  it('D6: created queue, delay and DLQ topics get retention.ms = 14 days, not the broker default of 7', async () => {
    const bus = await makeBus();
    const topic = topicName('retention');
    await bus.publish(topic, msg('now'));
    await bus.publish(topic, msg('later'), { deliverAt: new Date(Date.now() + 60_000) });
    await bus.publish(`${topic}.dlq`, msg('dead'));
    expect(DEFAULT_RETENTION_MS).toBe(14 * 24 * 3_600_000);
    for (const t of [topic, `${topic}.delay.5s`, `${topic}.dlq`]) {
      expect(await topicConfig(t, 'retention.ms'), t).toBe(String(DEFAULT_RETENTION_MS));
    }
  });

  it('D6: topics.retentionMs and topics.configs override the default', async () => {
    const a = await makeBus({ topics: { partitions: 1, replicationFactor: 1, retentionMs: 3 * 24 * 3_600_000 } });
    const b = await makeBus({ topics: { partitions: 1, replicationFactor: 1, configs: { 'retention.ms': '-1' } } });
    const ta = topicName('retention-a');
    const tb = topicName('retention-b');
    await a.publish(ta, msg('x'));
    await b.publish(tb, msg('x'));
    expect(await topicConfig(ta, 'retention.ms')).toBe(String(3 * 24 * 3_600_000));
    expect(await topicConfig(tb, 'retention.ms')).toBe('-1');
  });

  it('D6: a topic that already exists keeps its retention', async () => {
    const topic = topicName('retention-existing');
    await createSmallTopic(topic, 1_048_588, { 'retention.ms': '86400000' });
    const bus = await makeBus();
    await bus.publish(topic, msg('x'));
    expect(await topicConfig(topic, 'retention.ms')).toBe('86400000');
  });
});
