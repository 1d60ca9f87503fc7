/**
 * State of one assigned partition of a subscription, and of one admitted message (see the state
 * machines in subscription.ts). Plain data shared by the subscription and its committer.
 */
import type { Message } from '../types.js';
import { decodeSettled, type SettledOffsets } from './offset-metadata.js';
import type { CommittedOffset } from './port.js';
import { createPartitionTracker, type PartitionTracker } from './tracker.js';

/** ASSIGNED: dispatching; HELD: a rebalance or crash is under way; REVOKED: terminal. */
export type PartitionStatus = 'assigned' | 'held' | 'revoked';

/** One assigned partition. */
export interface PartitionState {
  readonly partition: number;
  readonly tracker: PartitionTracker;
  status: PartitionStatus;
  /**
   * False until the group's committed offset and metadata were read for this assignment:
   * nothing is admitted, dispatched or committed before (see `loading`).
   */
  ready: boolean;
  /** The read of the committed offset in progress, when not ready. */
  loading: Promise<void> | undefined;
  /** Highest committed offset known (ours or read from the group), or -1; never committed below. */
  committed: number;
  /** Metadata committed with {@link committed}. */
  committedMeta: string;
  /** When metadata was last committed, epoch ms (metadata-only commits are throttled). */
  metaCommittedAt: number;
  /** Offsets the commit metadata marks settled: skipped, not delivered. */
  skip: SettledOffsets | undefined;
  /** Fetching stopped because the offset span reached maxOffsetSpan. */
  spanPaused: boolean;
  /** Entries that became runnable while not dispatching, in order. */
  held: Entry[];
  /** The AbortController behind the signals of this partition's latest deliveries (dispatcher.ts). */
  signals: AbortController | undefined;
  /** Deliveries handed {@link signals} so far. */
  signalsHanded: number;
}

/** WAITING (behind its lane) -> RUNNING -> DONE, or RUNNING -> RETRYING (timer) -> RUNNING. */
export type EntryState = 'waiting' | 'running' | 'retrying' | 'done';

/** One admitted message. */
export interface Entry {
  readonly ps: PartitionState;
  readonly offset: number;
  /** Its ordering lane within its partition (lanes.ts `laneInPartition`). */
  readonly lane: string | undefined;
  readonly message: Message;
  state: EntryState;
  deliveryCount: number;
  /** Increments on every handler invocation; a settle of an older invocation is ignored. */
  run: number;
  timer: NodeJS.Timeout | undefined;
  /** When a RUNNING entry is presumed dead (ackTimeoutMs after its start or last working()). */
  ackDeadline: number;
  /** Due time of a message that arrived early (a delay shorter than the smallest tier), ms. */
  dueAt: number | undefined;
  /**
   * Behind the current run's Delivery.signal, set when the handler first reads it (shared with
   * a few other deliveries of the partition); aborted when the partition is held or revoked or
   * the subscription closes.
   */
  abort: AbortController | undefined;
  /** Index in the dispatcher's list of running entries (a SlotList), -1 when not running. */
  slot: number;
}

/** A fresh partition state, not ready until its committed offset was read. */
export function newPartitionState(partition: number): PartitionState {
  return {
    partition,
    tracker: createPartitionTracker(),
    status: 'assigned',
    ready: false,
    loading: undefined,
    committed: -1,
    committedMeta: '',
    metaCommittedAt: 0,
    skip: undefined,
    spanPaused: false,
    held: [],
    signals: undefined,
    signalsHanded: 0,
  };
}

/** Start an empty partition state at the group's committed offset, skipping what its metadata marks settled. */
export function startAtCommitted(ps: PartitionState, committed: CommittedOffset | undefined): PartitionState {
  if (committed && committed.offset >= 0) {
    ps.committed = committed.offset;
    ps.committedMeta = committed.metadata;
    ps.skip = decodeSettled(committed.metadata, committed.offset);
  }
  return ps;
}
