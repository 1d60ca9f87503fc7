/**
 * Topic-config helpers of the Kafka producer-side tests: topics that refuse records (small
 * max.message.bytes) and reading a topic's configs back.
 */
import { ConfigResourceTypes } from 'kafkajs';
import { plainKafka, waitFor } from './helpers.js';

/** Create `topic` with a small max.message.bytes (and other configs), one partition unless told. */
export async function createSmallTopic(topic: string, maxMessageBytes: number, extra: Record<string, string> = {}, partitions = 1): Promise<void> {
  const admin = plainKafka().admin();
  await admin.connect();
  try {
    // kafkajs's own leader wait gives up on KRaft's transient UNKNOWN_TOPIC_OR_PARTITION: poll instead.
    await admin.createTopics({
      waitForLeaders: false,
      topics: [
        {
          topic,
          numPartitions: partitions,
          replicationFactor: 1,
          configEntries: Object.entries({ 'max.message.bytes': String(maxMessageBytes), ...extra }).map(([name, value]) => ({ name, value })),
        },
      ],
    });
    await waitFor(
      async () => (await admin.fetchTopicOffsets(topic).catch(() => [])).length === partitions,
      20_000,
      `topic ${topic} to get serving leaders`,
    );
  } finally {
    await admin.disconnect();
  }
}

/** The value of config `name` of `topic` (admin describeConfigs). */
export async function topicConfig(topic: string, name: string): Promise<string | undefined> {
  const admin = plainKafka().admin();
  await admin.connect();
  try {
    const res = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: [name] }] });
    return res.resources[0]?.configEntries.find((e) => e.configName === name)?.configValue;
  } finally {
    await admin.disconnect();
  }
}
