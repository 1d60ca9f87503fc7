import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/testing/wait.js';
import { kafkaBrokers, uniqueName } from '../setup/env.js';

describe('smoke: Kafka', () => {
  const kafka = new Kafka({ clientId: 'jobbus-smoke', brokers: kafkaBrokers(), logLevel: logLevel.ERROR });
  const topic = uniqueName('smoke-kafka');
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  let consumer: Consumer | undefined;

  afterAll(async () => {
    await consumer?.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  });

  it('produces and consumes a message with key and headers', async () => {
    await admin.connect();
    // kafkajs's own leader wait gives up on KRaft's transient UNKNOWN_TOPIC_OR_PARTITION: poll instead.
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: false })).toBe(true);
    await waitFor(async () => (await admin.fetchTopicOffsets(topic)).length === 2, `topic ${topic} to get serving leaders`);

    await producer.connect();
    const [meta] = await producer.send({
      topic,
      acks: -1,
      messages: [{ key: 'tenant-a:job', value: 'hello kafka', headers: { job_id: 'j-1', 'job_name': 'smoke', unicode: 'é✓' } }],
    });
    expect(meta?.errorCode).toBe(0);

    consumer = kafka.consumer({ groupId: uniqueName('smoke-group') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<KafkaMessage>((resolve) => {
      void consumer!.run({ eachMessage: async ({ message }) => resolve(message) });
    });

    expect(received.key?.toString()).toBe('tenant-a:job');
    expect(received.value?.toString()).toBe('hello kafka');
    const headers = Object.fromEntries(Object.entries(received.headers ?? {}).map(([k, v]) => [k, String(v)]));
    expect(headers).toEqual({ job_id: 'j-1', job_name: 'smoke', unicode: 'é✓' });
  });
});
