/**
 * Offset commits of one subscription: single flight, coalesced, never backwards, with the
 * settled offsets above each committed offset in the commit metadata (offset-metadata.ts).
 *
 * Which partitions a commit may carry (why: a classic-group broker checks only the member and
 * generation of a commit, not partition ownership, and kafkajs commits with whatever generation
 * it has at the moment of the call — see kafkajs-driver.ts):
 * - ASSIGNED and ready partitions, always;
 * - HELD partitions only in a commit issued while this member is sure to still have the old
 *   generation: synchronously inside the rebalance notification (before kafkajs rejoins), from
 *   the awaited revoke hook, or on close — never from a commit that was queued behind another
 *   and goes out later, possibly after the rejoin.
 *
 * A commit whose offset did not move but whose metadata changed (a message settled behind a
 * slow one) goes out at most every {@link METADATA_COMMIT_INTERVAL_MS}; a moving offset is
 * committed at once (with its metadata).
 */
import { describeError } from '../../errors.js';
import { KAFKA_DEFAULT_METADATA_MAX_BYTES } from './offset-metadata.js';
import type { KafkaBusLogger } from './options.js';
import type { PartitionState } from './partition.js';
import { isMetadataTooLarge, type CommitOffset, type CommittedOffset, type GroupConsumerPort } from './port.js';

/** Longest a settle that does not move a committed offset waits to be recorded in the metadata, ms. */
export const METADATA_COMMIT_INTERVAL_MS = 200;
const COMMIT_RETRY_MS = 500;

/** What the committer needs. */
export interface CommitterSettings {
  readonly topic: string;
  readonly groupId: string;
  readonly partitions: () => Iterable<PartitionState>;
  readonly consumer: () => GroupConsumerPort;
  readonly logger: KafkaBusLogger | undefined;
}

/** The commit loop of a subscription. */
export interface Committer {
  /** Commit soon (coalesced with a commit in flight). */
  request(): void;
  /**
   * Only metadata changed (a settle behind a slow message): commit within
   * {@link METADATA_COMMIT_INTERVAL_MS}, without a commit round per settle.
   */
  requestMetadata(): void;
  /** Commit now including HELD partitions if no commit is in flight (else as {@link request}). */
  requestIncludingHeld(): void;
  /** Commit everything committable, HELD partitions included, and wait for it. */
  flush(): Promise<void>;
  /** Cancel timers (closing). */
  stop(): void;
}

/** Create the committer. */
export function createCommitter(s: CommitterSettings): Committer {
  let inFlight: Promise<void> | undefined;
  let dirty = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let metaTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let metadataMaxChars = KAFKA_DEFAULT_METADATA_MAX_BYTES;

  const armMetaTimer = (ms: number): void => {
    if (metaTimer || stopped) return;
    metaTimer = setTimeout(() => {
      metaTimer = undefined;
      request();
    }, ms);
    metaTimer.unref?.();
  };

  const collect = (includeHeld: boolean, force: boolean): [CommitOffset[], [PartitionState, number, string][]] => {
    const offsets: CommitOffset[] = [];
    const states: [PartitionState, number, string][] = [];
    const now = Date.now();
    for (const ps of s.partitions()) {
      if (!ps.ready || ps.status === 'revoked' || (ps.status === 'held' && !includeHeld)) continue;
      const c = ps.tracker.committable();
      // Never backwards: another member may have committed further (U3).
      if (c === undefined || c < ps.committed) continue;
      if (c === ps.committed && !force) {
        // Checked before encoding: with a long span behind a slow message the encoding is the
        // expensive part, and this partition's metadata is written at most once per interval.
        const wait = ps.metaCommittedAt + METADATA_COMMIT_INTERVAL_MS - now;
        if (wait > 0) {
          armMetaTimer(wait);
          continue;
        }
      }
      const meta = ps.tracker.metadata(metadataMaxChars);
      if (c === ps.committed && meta === ps.committedMeta) continue;
      offsets.push({ topic: s.topic, partition: ps.partition, offset: c, ...(meta ? { metadata: meta } : {}) });
      states.push([ps, c, meta]);
    }
    return [offsets, states];
  };

  const run = async (includeHeldFirst: boolean, includeHeldAlways: boolean, force: boolean): Promise<void> => {
    let includeHeld = includeHeldFirst || includeHeldAlways;
    while (dirty) {
      dirty = false;
      const [offsets, states] = collect(includeHeld, force);
      includeHeld = includeHeldAlways; // a later round may go out after a rejoin
      if (!offsets.length) return;
      try {
        // The request is built synchronously within this call (generation included).
        await s.consumer().commit(offsets);
        const now = Date.now();
        for (const [ps, c, meta] of states) {
          if (c < ps.committed) continue;
          ps.committed = c;
          ps.committedMeta = meta;
          ps.metaCommittedAt = now;
        }
      } catch (err) {
        if (isMetadataTooLarge(err) && metadataMaxChars > 0) {
          // The broker runs with a smaller offset.metadata.max.bytes: use less (at worst none:
          // settled offsets behind a slow one are then delivered again after a crash).
          metadataMaxChars = metadataMaxChars >= 256 ? Math.floor(metadataMaxChars / 2) : 0;
          s.logger?.warn({ topic: s.topic, groupId: s.groupId, metadataMaxChars }, 'kafka: the broker refused the commit metadata as too large; using less');
          dirty = true;
          continue;
        }
        // Typical during a rebalance (generation moved on) or before the first batch. The
        // offsets stay uncommitted: at worst those messages are delivered again.
        s.logger?.debug?.({ topic: s.topic, groupId: s.groupId, err: describeError(err) }, 'kafka commit failed');
        if (!stopped && !retryTimer) {
          retryTimer = setTimeout(() => {
            retryTimer = undefined;
            request();
          }, COMMIT_RETRY_MS);
          retryTimer.unref?.();
        }
        return;
      }
    }
  };

  const launch = (includeHeldFirst: boolean): void => {
    inFlight = run(includeHeldFirst, false, false).finally(() => {
      inFlight = undefined;
      if (dirty && !retryTimer) request();
    });
  };

  function request(): void {
    dirty = true;
    if (inFlight) return; // the running loop picks it up
    launch(false);
  }

  return {
    request,
    requestMetadata() {
      armMetaTimer(METADATA_COMMIT_INTERVAL_MS);
    },
    requestIncludingHeld() {
      dirty = true;
      if (inFlight) return;
      launch(true);
    },
    async flush() {
      while (inFlight) await inFlight;
      dirty = true;
      inFlight = run(true, true, true).finally(() => {
        inFlight = undefined;
      });
      await inFlight;
    },
    stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (metaTimer) clearTimeout(metaTimer);
      retryTimer = undefined;
      metaTimer = undefined;
    },
  };
}

/**
 * The group's committed offsets of `topic` by partition, or undefined when they could not be
 * read within `timeoutMs` (logged): the caller then delivers everything from the fetch position
 * (duplicates possible, never a loss). Bounded because a batch waits for it.
 */
export async function readCommittedOffsets(
  consumer: GroupConsumerPort,
  topic: string,
  groupId: string,
  timeoutMs: number,
  logger: KafkaBusLogger | undefined,
): Promise<Map<number, CommittedOffset> | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const list = await Promise.race([
      consumer.committed(topic),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return new Map(list.map((c) => [c.partition, c]));
  } catch (err) {
    logger?.warn({ topic, groupId, err: describeError(err) }, 'kafka: could not read the committed offsets; settled offsets above them may be delivered again');
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
