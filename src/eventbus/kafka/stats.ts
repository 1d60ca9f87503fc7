/**
 * {@link QueueStatsBus} on Kafka, from the broker alone: a group's lag on a topic (high-water
 * marks minus its committed offsets) is what waits; the delay topics' lag behind their relay
 * groups is what is delayed; the retained records (high minus low) are a DLQ's size. Kafka
 * cannot tell delivered-but-unsettled records from waiting ones (a record counts as consumed
 * only once committed), so `inFlight` is absent and `waiting` includes them.
 */
import type { QueueStatsBus, TopicStats } from '../types.js';
import type { AdminPort, PartitionOffsets } from './port.js';

/** What {@link createTopicStats} needs. */
export interface StatsDeps {
  admin(): Promise<AdminPort>;
  /** Kafka group id of a (group, topic) subscription. */
  groupIdOf(group: string, topic: string): string;
  /** The delay-tier topics of a topic. */
  delayTopics(topic: string): string[];
  /** Kafka group id of the relay of a delay topic. */
  relayGroupOf(delayTopic: string): string;
  /** Wrap a client error as a typed one. */
  unavailable(what: string, err: unknown): Error;
  /** Throws a ClosedError once the bus is closed. */
  assertOpen(): void;
}

/** Records of `offsets` a group with `committed` offsets has yet to consume (none committed: from the low mark). */
function lagOf(offsets: readonly PartitionOffsets[], committed: ReadonlyMap<number, number>): number {
  let lag = 0;
  for (const o of offsets) {
    const at = committed.get(o.partition) ?? -1;
    lag += Math.max(0, o.high - Math.max(at, o.low));
  }
  return lag;
}

/** The bus's {@link QueueStatsBus} side. */
export function createTopicStats(d: StatsDeps): QueueStatsBus {
  /** Offsets of `topic` and the lag of `groupId` on it; zeros for a topic that does not exist. */
  async function lag(admin: AdminPort, topic: string, groupId: string, existing: ReadonlySet<string>): Promise<{ lag: number; retained: number }> {
    if (!existing.has(topic)) return { lag: 0, retained: 0 };
    const [offsets, committed] = await Promise.all([admin.topicOffsets(topic), admin.groupOffsets(groupId, topic)]);
    const retained = offsets.reduce((n, o) => n + (o.high - o.low), 0);
    return { lag: lagOf(offsets, new Map(committed.map((c) => [c.partition, c.offset]))), retained };
  }

  return {
    async topicStats(topic, group): Promise<TopicStats> {
      d.assertOpen();
      try {
        const admin = await d.admin();
        // Listed first: reading the offsets of a missing topic waits for it to appear.
        const existing = new Set(await admin.listTopics());
        const [own, ...delays] = await Promise.all([
          lag(admin, topic, d.groupIdOf(group, topic), existing),
          ...d.delayTopics(topic).map((t) => lag(admin, t, d.relayGroupOf(t), existing)),
        ]);
        return { topic, group, waiting: own!.lag, delayed: delays.reduce((n, x) => n + x.lag, 0), retained: own!.retained };
      } catch (err) {
        throw d.unavailable(`cannot read the stats of topic ${topic} for group ${group}`, err);
      }
    },
  };
}
