/**
 * Group-protocol requests of the `@platformatic/kafka` group consumer that the library does not
 * offer as the port needs them (part of the platformatic driver): a commit with metadata, sent
 * once, with the caller's generation, and a rejoin held back while the member drains.
 */
import type * as Plt from '@platformatic/kafka';
import { UnavailableError } from '../../errors.js';
import type { PltModule } from './platformatic-driver.js';
import type { CommitOffset, GroupConsumerSettings } from './port.js';

/** An OffsetCommit request's partition (the library's OffsetCommit API). */
interface CommitPartition {
  partitionIndex: number;
  committedOffset: bigint;
  committedLeaderEpoch: number;
  committedMetadata: string | null;
}

/** A protocol API of the library, as its `kGetApi` hands it over. */
interface ProtocolApi {
  async(...args: unknown[]): Promise<unknown>;
}

/**
 * Send one OffsetCommit request (no retry, metadata included) to the group coordinator through
 * `pool` (a connection of its own: never queued behind a long-polling fetch or a parked
 * JoinGroup), as member `gen.memberId` of generation `gen.generationId`.
 */
export async function sendCommit(
  mod: PltModule,
  consumer: Plt.Consumer,
  pool: Plt.ConnectionPool,
  settings: GroupConsumerSettings,
  offsets: readonly CommitOffset[],
  gen: { readonly generationId: number; readonly memberId: string },
): Promise<void> {
  const coordinator = await consumer.findGroupCoordinator();
  const meta = await consumer.metadata({ topics: [...settings.topics] });
  const broker = meta.brokers.get(coordinator);
  if (!broker) throw new UnavailableError(`group ${settings.groupId}: coordinator ${coordinator} is not in the metadata`);
  const conn = await pool.get(broker);
  const api = await new Promise<ProtocolApi>((resolve, reject) =>
    consumer[mod.kGetApi]<unknown[], unknown>('OffsetCommit', (err, a) => (err ? reject(err) : resolve(a as unknown as ProtocolApi))),
  );
  const topics = new Map<string, { name: string; partitions: CommitPartition[] }>();
  for (const o of offsets) {
    let t = topics.get(o.topic);
    if (!t) topics.set(o.topic, (t = { name: o.topic, partitions: [] }));
    t.partitions.push({ partitionIndex: o.partition, committedOffset: BigInt(o.offset), committedLeaderEpoch: -1, committedMetadata: o.metadata ?? null });
  }
  await api.async(conn, settings.groupId, gen.generationId, gen.memberId, null, [...topics.values()]);
}

/**
 * The library rejoins as soon as it learns of a rebalance; the port wants onRevoke awaited
 * before that. Its JoinGroup request looks its API up through `kGetApi` right before sending:
 * while `waitFor()` returns a promise, that look-up waits for it (the group waits for us up to
 * the rebalance timeout; the subscription's drain is bounded well below it).
 */
export function holdJoinWhile(mod: PltModule, consumer: Plt.Consumer, waitFor: () => Promise<void> | undefined): void {
  const self = consumer as unknown as Record<symbol, (name: string, callback: (...args: unknown[]) => void) => void>;
  const original = self[mod.kGetApi]!.bind(consumer);
  self[mod.kGetApi] = (name, callback) => {
    const waiting = name === 'JoinGroup' ? waitFor() : undefined;
    if (waiting) void waiting.then(() => original(name, callback));
    else original(name, callback);
  };
}
