/**
 * The {@link AdminPort} over a `@platformatic/kafka` Admin client (part of the platformatic
 * driver, platformatic-driver.ts). Errors leave with their Kafka error name as `type`
 * (platformatic-errors.ts), as the kafkajs driver's do.
 */
import type * as Plt from '@platformatic/kafka';
import { hasProtocolError, normalize, normalized, protocolErrorIds } from './platformatic-errors.js';
import type { AdminPort, CommittedOffset, PartitionOffsets, TopicSpec } from './port.js';
import { untilSettled, type DriverErrors } from './settling.js';

/** The driver's errors: Kafka error names in `apiId`, normalized to carry them as `type`. */
const PLATFORMATIC_ERRORS: DriverErrors = { names: protocolErrorIds, normalize };

/** Partition count of `topic` (fresh metadata). */
async function partitionsOf(admin: Plt.Admin, topic: string): Promise<number> {
  const meta = await admin.metadata({ topics: [topic], forceUpdate: true });
  const t = meta.topics.get(topic);
  if (!t) throw Object.assign(new Error(`topic ${topic} not found`), { apiId: 'UNKNOWN_TOPIC_OR_PARTITION' });
  return t.partitionsCount;
}

/** Low and high watermarks of every partition of `topic`. */
export async function watermarks(admin: Plt.Admin, topic: string): Promise<PartitionOffsets[]> {
  const count = await partitionsOf(admin, topic);
  const ask = (timestamp: bigint) =>
    admin.listOffsets({ topics: [{ name: topic, partitions: Array.from({ length: count }, (_, i) => ({ partitionIndex: i, timestamp })) }] });
  const [low, high] = await Promise.all([ask(-2n), ask(-1n)]);
  const lows = new Map<number, number>();
  for (const t of low) for (const p of t.partitions) lows.set(p.partitionIndex, Number(p.offset));
  const out: PartitionOffsets[] = [];
  for (const t of high) for (const p of t.partitions) out.push({ partition: p.partitionIndex, low: lows.get(p.partitionIndex) ?? 0, high: Number(p.offset) });
  return out.sort((a, b) => a.partition - b.partition);
}

/** A group's committed offsets (with metadata) of `topic`. */
export async function groupCommitted(admin: Plt.Admin, groupId: string, topic: string): Promise<CommittedOffset[]> {
  const groups = await normalized(admin.listConsumerGroupOffsets({ groups: [groupId] }));
  const out: CommittedOffset[] = [];
  for (const g of groups) {
    if (g.groupId !== groupId) continue;
    for (const t of g.topics) {
      if (t.name !== topic) continue;
      for (const p of t.partitions) out.push({ partition: p.partitionIndex, offset: Number(p.committedOffset), metadata: p.metadata ?? '' });
    }
  }
  return out;
}

/** Create one topic; one that already exists is not an error. */
async function createTopic(admin: Plt.Admin, s: TopicSpec): Promise<void> {
  try {
    await admin.createTopics({
      topics: [s.topic],
      partitions: s.partitions,
      replicas: s.replicationFactor,
      configs: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
    });
  } catch (err) {
    const ids = protocolErrorIds(err);
    if (ids.length > 0 && ids.every((id) => id === 'TOPIC_ALREADY_EXISTS')) return;
    throw normalize(err);
  }
}

/**
 * Wait until every partition of `topics` has a leader that answers: the metadata can name a
 * leader a moment before that broker serves the partition, so the wait ends with a successful
 * offsets request per topic.
 */
async function waitForLeaders(admin: Plt.Admin, topics: readonly string[], timeoutMs: number): Promise<void> {
  await untilSettled(`topics ${topics.join(', ')} got no serving leader after creation`, timeoutMs, PLATFORMATIC_ERRORS, async () => {
    const meta = await admin.metadata({ topics: [...topics], forceUpdate: true });
    const led = topics.every((name) => {
      const t = meta.topics.get(name);
      return t !== undefined && t.partitionsCount > 0 && t.partitions.every((p) => p !== undefined && p.leader >= 0);
    });
    if (!led) return false;
    for (const name of topics) await watermarks(admin, name);
    return true;
  });
}

/** The admin port over `admin`; `release` gives the shared client back. */
export function createPlatformaticAdmin(admin: Plt.Admin, release: () => Promise<void>, settleTimeoutMs: number): AdminPort {
  return {
    async describeCluster() {
      const meta = await normalized(admin.metadata({ topics: [], forceUpdate: true }));
      return { clusterId: meta.id, brokers: meta.brokers.size, controller: meta.controllerId ?? null };
    },
    listTopics: () => normalized(admin.listTopics()),
    async createTopics(specs) {
      await Promise.all(specs.map((s) => createTopic(admin, s)));
      await waitForLeaders(admin, specs.map((s) => s.topic), settleTimeoutMs);
    },
    async topicOffsets(topic) {
      let offsets: PartitionOffsets[] = [];
      await untilSettled(`the offsets of topic ${topic} could not be read`, settleTimeoutMs, PLATFORMATIC_ERRORS, async () => {
        offsets = await watermarks(admin, topic);
        return true;
      });
      return offsets;
    },
    async deleteRecords(topic, partition, beforeOffset) {
      try {
        await admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition, offset: BigInt(beforeOffset) }] }] });
      } catch (err) {
        if (hasProtocolError(err, 'NOT_LEADER_OR_FOLLOWER')) admin.clearMetadata();
        throw normalize(err);
      }
    },
    async groupOffsets(groupId, topic) {
      // As kafkajs answers: every partition of the topic, -1 where the group committed none.
      const [committed, count] = await Promise.all([groupCommitted(admin, groupId, topic), normalized(partitionsOf(admin, topic))]);
      const byPartition = new Map(committed.map((c) => [c.partition, c]));
      return Array.from({ length: count }, (_, partition) => byPartition.get(partition) ?? { partition, offset: -1, metadata: '' });
    },
    disconnect: release,
  };
}
