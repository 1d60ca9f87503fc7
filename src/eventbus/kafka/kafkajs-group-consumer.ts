/**
 * The {@link GroupConsumerPort} over a kafkajs 2.2.x consumer (part of the kafkajs driver,
 * kafkajs-driver.ts): no auto-commit, retry-free commits with metadata, the group's committed
 * offsets through an admin client, pause/resume that never throw.
 */
import type * as KafkaJs from 'kafkajs';
import { UnavailableError } from '../../errors.js';
import type { KafkaBusLogger } from './options.js';
import type { CommitOffset, CommittedOffset, ConsumedRecord, GroupConsumerPort, GroupConsumerSettings, GroupHandlers } from './port.js';

/** A kafkajs message as a {@link ConsumedRecord}. */
export function toRecord(m: KafkaJs.KafkaMessage): ConsumedRecord {
  return {
    offset: Number(m.offset),
    key: m.key,
    value: m.value,
    headers: m.headers,
    timestamp: Number(m.timestamp),
  };
}

/** One use of the driver's shared admin client (disconnected when its last user releases it). */
export interface SharedAdmin {
  readonly admin: Promise<KafkaJs.Admin>;
  /** Idempotent; resolves once disconnected when this was the last user. */
  release(): Promise<void>;
}

/** A group consumer over kafkajs. */
export function createGroupConsumer(
  kafka: KafkaJs.Kafka,
  settings: GroupConsumerSettings,
  logger: KafkaBusLogger | undefined,
  acquireAdmin: () => SharedAdmin,
): GroupConsumerPort {
  const consumer = kafka.consumer({
    groupId: settings.groupId,
    sessionTimeout: settings.sessionTimeoutMs,
    rebalanceTimeout: settings.rebalanceTimeoutMs,
    heartbeatInterval: settings.heartbeatIntervalMs,
    maxWaitTimeInMs: settings.maxWaitTimeMs,
    maxBytesPerPartition: settings.maxBytesPerPartition,
    allowAutoTopicCreation: false,
  });
  let generation = 0;
  // kafkajs offers a retry-free commit (one request) only through the eachBatch payload;
  // consumer.commitOffsets() retries for a while. The latest payload's commit function is kept
  // and used for every commit. It does NOT pin a generation: kafkajs replaces its offset manager
  // (with the new generation) on every group sync, so a commit issued after a rejoin carries the
  // new generation. What keeps a member from committing a partition it no longer owns is the
  // subscription: it commits a partition only while it is assigned to it, or, during a
  // rebalance, only from the awaited revoke hook, which runs before kafkajs rejoins.
  let commitFn: ((offsets: KafkaJs.Offsets) => Promise<void>) | undefined;
  let stopped = false;
  // The group's committed offsets are read through an admin client (kafkajs exposes no
  // offset-fetch on the consumer): the driver's shared one, held from the first read to stop().
  let admin: SharedAdmin | undefined;
  const getAdmin = async (): Promise<KafkaJs.Admin> => {
    admin ??= acquireAdmin();
    const held = admin;
    try {
      return await held.admin;
    } catch (err) {
      if (admin === held) admin = undefined;
      void held.release();
      throw err;
    }
  };
  // pause/resume throw "Consumer group was not initialized" while kafkajs is between a crash and
  // its restart (its consumerGroup is null then). Nothing is fetched in that window anyway, and
  // the caller resumes what it wants on the next assignment, so ignore it.
  const safely = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      logger?.debug?.({ groupId: settings.groupId, err: err instanceof Error ? err.message : String(err) }, `kafka: ${what} ignored, the consumer is not running`);
    }
  };

  return {
    async start(handlers: GroupHandlers) {
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        const assignment = new Map<string, number[]>();
        for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
          assignment.set(topic, [...(partitions as number[])]);
        }
        generation++;
        handlers.onAssigned(assignment, generation);
      });
      consumer.on(consumer.events.REBALANCING, () => handlers.onRebalancing());
      consumer.on(consumer.events.CRASH, (event) => {
        commitFn = undefined;
        handlers.onCrash(event.payload.error, event.payload.restart === true);
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [...settings.topics], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: settings.partitionsConcurrently,
        eachBatch: async (payload) => {
          commitFn = payload.commitOffsetsIfNecessary;
          const { batch } = payload;
          await handlers.onBatch(
            { topic: batch.topic, partition: batch.partition, records: batch.messages.map(toRecord) },
            {
              advance: (offset) => payload.resolveOffset(String(offset)),
              heartbeat: async () => {
                try {
                  await payload.heartbeat();
                } catch (err) {
                  // kafkajs rejoins as soon as this error leaves eachBatch; until then the group
                  // waits for us (up to the rebalance timeout) and commits of this generation
                  // are still accepted: the one moment to drain and commit before revocation.
                  if ((err as { type?: string }).type === 'REBALANCE_IN_PROGRESS') await handlers.onRevoke?.();
                  throw err;
                }
              },
              isActive: () => !stopped && payload.isRunning() && !payload.isStale(),
            },
          );
        },
      });
    },
    pause(topic, partitions) {
      safely('pause', () => consumer.pause([partitions ? { topic, partitions: [...partitions] } : { topic }]));
    },
    resume(topic, partitions) {
      safely('resume', () => consumer.resume([partitions ? { topic, partitions: [...partitions] } : { topic }]));
    },
    async commit(offsets: readonly CommitOffset[]) {
      if (!commitFn) throw new UnavailableError(`group ${settings.groupId}: no batch fetched yet, nothing can be committed`);
      const byTopic = new Map<string, { partition: number; offset: string; metadata?: string }[]>();
      for (const o of offsets) {
        const list = byTopic.get(o.topic) ?? [];
        // kafkajs passes each partition entry to the OffsetCommit request as is, metadata included.
        list.push({ partition: o.partition, offset: String(o.offset), ...(o.metadata ? { metadata: o.metadata } : {}) });
        byTopic.set(o.topic, list);
      }
      try {
        await commitFn({ topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) });
      } catch (err) {
        if ((err as { type?: unknown }).type === 'OFFSET_METADATA_TOO_LARGE') {
          throw Object.assign(new UnavailableError(`group ${settings.groupId}: the broker refused the commit metadata as too large`, { cause: err }), {
            metadataTooLarge: true,
          });
        }
        throw err;
      }
    },
    async committed(topic) {
      const a = await getAdmin();
      const result = await a.fetchOffsets({ groupId: settings.groupId, topics: [topic] });
      const out: CommittedOffset[] = [];
      for (const t of result) {
        if (t.topic !== topic) continue;
        for (const p of t.partitions) out.push({ partition: p.partition, offset: Number(p.offset), metadata: p.metadata ?? '' });
      }
      return out;
    },
    async stop() {
      stopped = true;
      try {
        await consumer.disconnect();
      } finally {
        const a = admin;
        admin = undefined;
        await a?.release();
      }
    },
  };
}
