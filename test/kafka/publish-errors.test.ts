/**
 * D3: every error out of a Kafka publish is a JobbusError — PublishRejectedError (not retryable)
 * when the broker refused the records for good, UnavailableError (retryable) otherwise.
 * Real broker; the topics that refuse are created with a small max.message.bytes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { JobbusError, PublishRejectedError, UnavailableError } from '../../src/errors.js';
import { createKafkaEventBus } from '../../src/eventbus/kafka/index.js';
import { createEventBusBridge } from '../../src/bridge/bridge.js';
import { createJob } from '../../src/jobs/job.js';
import { cleanup, makeBus, msg, testDriver, topicName } from './helpers.js';
import { createSmallTopic } from './topic-config.js';

afterEach(cleanup);

describe('kafka publish errors', () => {
  it('D3: a message too large for the topic is a PublishRejectedError (retryable false), with the kafkajs error as cause', async () => {
    const bus = await makeBus();
    const topic = topicName('toolarge');
    await createSmallTopic(topic, 2_000);
    await bus.publish(topic, msg('small')); // the topic works
    const err = await bus.publish(topic, { value: new Uint8Array(5_000), headers: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PublishRejectedError);
    expect((err as PublishRejectedError).retryable).toBe(false);
    expect((err as PublishRejectedError).code).toBe('PUBLISH_REJECTED');
    expect((err as PublishRejectedError).topic).toBe(topic);
    expect(String((err as Error).message)).toMatch(/MESSAGE_TOO_LARGE/);
    expect((err as Error).cause).toBeDefined();
    // A batch with one too-large record is refused as a whole, also as PublishRejectedError.
    await expect(bus.publishBatch(topic, [msg('a'), { value: new Uint8Array(5_000), headers: {} }])).rejects.toBeInstanceOf(PublishRejectedError);
  });

  it('S1: enqueue refuses a job that leaves no room under maxMessageBytes for its retry and DLQ headers', async () => {
    const bus = await makeBus({ maxMessageBytes: 8_000 });
    expect(bus.maxMessageBytes).toBe(8_000);
    const bridge = createEventBusBridge(bus, { ownsBus: false });
    const queue = topicName('headroom');
    await expect(bridge.enqueue(createJob({ name: 'n', queue, payload: new Uint8Array(7_500) }))).rejects.toBeInstanceOf(PublishRejectedError);
    await bridge.enqueue(createJob({ name: 'n', queue, payload: new Uint8Array(6_000) }));
  });

  it('D3: a missing topic with autoCreateTopics false is a PublishRejectedError', async () => {
    const bus = await makeBus({ autoCreateTopics: false });
    const topic = topicName('missing');
    await expect(bus.publish(topic, msg('x'))).rejects.toBeInstanceOf(PublishRejectedError);
  });

  it('D3: a topic creation the broker refuses for good (invalid config) is a PublishRejectedError', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1, configs: { 'retention.ms': 'not-a-number' } } });
    const err = await bus.publish(topicName('badconfig'), msg('x')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PublishRejectedError);
    expect(String((err as Error).message)).toMatch(/INVALID_CONFIG/);
  });

  it('D3: publish against an unreachable Kafka rejects with UnavailableError (no raw kafkajs error) within a bounded time', async () => {
    const bus = await createKafkaEventBus({ driver: testDriver(), brokers: ['127.0.0.1:1'], connectionTimeoutMs: 200, requestTimeoutMs: 1_000 });
    try {
      const started = Date.now();
      const err = await bus.publish('nowhere', msg('x')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UnavailableError);
      expect((err as JobbusError).retryable).toBe(true);
      expect((err as Error).name).toBe('UnavailableError');
      expect(Date.now() - started).toBeLessThan(15_000);
      // Delayed publishes, health checks and subscriptions fail the same way.
      await expect(bus.publish('nowhere', msg('x'), { deliverAt: new Date(Date.now() + 60_000) })).rejects.toBeInstanceOf(UnavailableError);
      await expect(bus.healthCheck()).rejects.toBeInstanceOf(UnavailableError);
    } finally {
      await bus.close();
    }
  });
});
