/**
 * One subscription = one consumer group member (`groupId(group, topic)`) with its own
 * dispatcher: messages of a partition run concurrently (subject to the ordering lanes), at
 * most `maxInFlight` are unsettled at once, at most `maxOffsetSpan` offsets separate the oldest
 * unsettled and the newest admitted one of a partition, only the contiguous settled prefix of
 * each partition is committed, and the settled offsets above it travel in the commit metadata.
 *
 * Partition state machine (one `PartitionState` per assigned partition, partition.ts):
 *
 *   (assigned) --committed offset read--> ASSIGNED --rebalancing / crash / close--> HELD
 *   HELD --assigned again, group offset not ahead of ours--> ASSIGNED
 *   HELD/ASSIGNED --not in new assignment / closed / group offset ahead of ours--> REVOKED
 *
 * - On every assignment the group's committed offset and metadata are read first (nothing of
 *   the partition is admitted or dispatched before): records the metadata marks settled are
 *   skipped; a kept partition whose group offset moved past ours (another member owned it while
 *   this one was fenced) starts over from the group's offset (U3), and no commit ever goes
 *   below the highest committed offset known.
 * - ASSIGNED: fetched records are admitted, waiting ones dispatched, settled offsets committed.
 * - HELD: nothing new is dispatched (waiting messages stay queued); in-flight handlers keep
 *   running; deliveries' `signal` is aborted so a consumer that buffered them gives them back.
 * - REVOKED: the tracker is dropped, queued messages are released, settles of handlers still
 *   running are ignored (no commit for a partition this member no longer owns); such messages
 *   may be delivered again by the new owner (bounded duplicates).
 *
 * Message state: WAITING (admitted, behind its lane) -> RUNNING -> DONE, or RUNNING -> RETRYING
 * (rejected; timer) -> RUNNING. A rejected message keeps its offset uncommitted and its lane
 * (key) blocked, so neither a commit nor a same-key successor can pass it.
 *
 * Subscription lifecycle: NEW --start()--> RUNNING --close()--> CLOSING --drained, committed,
 * member stopped--> CLOSED (onClosed). Here: the lifecycle and the group callbacks. Elsewhere:
 * fetched batches and the span pause (fetch-loop.ts), the in-flight cap (flow-control.ts),
 * assignments (assignment.ts), one message's life (dispatcher.ts), commits (commits.ts).
 */
import { ValidationError, type UnavailableError } from '../../errors.js';
import type { DeliveryHandler, Message, Ordering, Subscription } from '../types.js';
import { createAssignments } from './assignment.js';
import { createCommitter, type Committer } from './commits.js';
import { createConsumerSupervisor, type ConsumerSupervisor } from './consumer-supervisor.js';
import { createDispatcher, type Dispatcher } from './dispatcher.js';
import { createFetchLoop, type FetchLoop } from './fetch-loop.js';
import { createFlowControl, type FlowControl } from './flow-control.js';
import { bitsThatFit, KAFKA_DEFAULT_METADATA_MAX_BYTES } from './offset-metadata.js';
import type { KafkaBusLogger } from './options.js';
import type { PartitionState } from './partition.js';
import type { BatchControl, GroupHandlers, GroupConsumerPort } from './port.js';

/**
 * Default `maxOffsetSpan`: the most offsets whose settled state always fits in the broker's
 * default 4 KiB commit metadata as a bitset (24 472), rounded down.
 */
export const DEFAULT_MAX_OFFSET_SPAN = Math.floor(bitsThatFit(KAFKA_DEFAULT_METADATA_MAX_BYTES) / 1_000) * 1_000;

/** Everything a subscription needs. */
export interface KafkaSubscriptionSettings {
  readonly topic: string;
  readonly group: string;
  readonly groupId: string;
  readonly handler: DeliveryHandler;
  readonly ordering: Ordering;
  readonly maxInFlight: number;
  /** Most offsets from the oldest unsettled to the newest admitted one per partition. Default {@link DEFAULT_MAX_OFFSET_SPAN}. */
  readonly maxOffsetSpan?: number | undefined;
  readonly ackTimeoutMs: number;
  readonly redeliveryDelayMs: number;
  readonly inMemoryRedeliveryMaxMs: number;
  readonly drainTimeoutMs: number;
  /**
   * Bounded wait for in-flight handlers when a rebalance revokes partitions. No heartbeat is
   * sent meanwhile, so the caller keeps it well under the session and rebalance timeouts.
   */
  readonly revokeDrainMs: number;
  /** How often a batch waiting at the cap heartbeats (kafkajs throttles to its heartbeat interval). */
  readonly heartbeatTickMs: number;
  /** A new group member (called again to re-create one after a crash without restart). */
  readonly consumer: () => GroupConsumerPort;
  /** Persist a redelivery through the delay topics (for long RedeliverAfter delays). */
  readonly republishLater: (message: Message, deliverAt: Date) => Promise<void>;
  readonly logger: KafkaBusLogger | undefined;
  /** Called once the subscription has fully closed. */
  readonly onClosed: () => void;
}

/** A running subscription with its lifecycle hooks. */
export interface KafkaSubscription extends Subscription {
  /** Join the group and start consuming. */
  start(): Promise<void>;
  /** Unsettled messages right now (for tests and metrics). */
  unsettled(): number;
  /** Offsets held in memory over all partitions (the sum of the trackers' spans; tests, metrics). */
  span(): number;
  /** Why this subscription's group member is down (crashed, not assigned again yet), or undefined. */
  health(): UnavailableError | undefined;
}

function checkedMaxSpan(s: KafkaSubscriptionSettings): number {
  const maxSpan = s.maxOffsetSpan ?? DEFAULT_MAX_OFFSET_SPAN;
  if (!Number.isSafeInteger(maxSpan) || maxSpan < 1) throw new ValidationError('maxOffsetSpan', `must be an integer >= 1, got ${String(maxSpan)}`);
  return maxSpan;
}

/** The parts a subscription is made of, sharing its partition states. */
interface Parts extends FetchLoop {
  readonly partitions: Map<number, PartitionState>;
  readonly supervisor: ConsumerSupervisor;
  readonly committer: Committer;
  readonly flow: FlowControl;
  readonly dispatcher: Dispatcher;
}

/** Build the parts; the subscription's `closing` flag is read through `isClosing`. */
function createParts(s: KafkaSubscriptionSettings, maxSpan: number, isClosing: () => boolean): Parts {
  const partitions = new Map<number, PartitionState>();
  const supervisor = createConsumerSupervisor({ topic: s.topic, groupId: s.groupId, newConsumer: s.consumer, logger: s.logger });
  const committer = createCommitter({ topic: s.topic, groupId: s.groupId, partitions: () => partitions.values(), consumer: () => supervisor.current(), logger: s.logger });
  const admitting = (control: BatchControl, ps: PartitionState): boolean =>
    control.isActive() && ps.status === 'assigned' && partitions.get(ps.partition) === ps && !isClosing();
  const flow: FlowControl = createFlowControl({
    maxInFlight: s.maxInFlight,
    heartbeatTickMs: s.heartbeatTickMs,
    unsettled: () => dispatcher.unsettled(),
    running: () => dispatcher.running.size,
    admitting,
  });
  const dispatcher: Dispatcher = createDispatcher({
    topic: s.topic,
    handler: s.handler,
    ordering: s.ordering,
    ackTimeoutMs: s.ackTimeoutMs,
    redeliveryDelayMs: s.redeliveryDelayMs,
    inMemoryRedeliveryMaxMs: s.inMemoryRedeliveryMaxMs,
    republishLater: s.republishLater,
    logger: s.logger,
    isClosing,
    onHeadMoved: (ps) => fetch.headMoved(ps),
    onMetadataChanged: () => committer.requestMetadata(),
    onSlotFreed: () => flow.onSlotFreed(),
  });
  const fetch = createFetchLoop({
    topic: s.topic,
    maxInFlight: s.maxInFlight,
    maxSpan,
    partitions,
    dispatcher,
    committer,
    flow,
    consumer: () => supervisor.current(),
    admitting,
    isClosing,
  });
  return { partitions, supervisor, committer, flow, dispatcher, ...fetch };
}

/** Create a subscription (not started). */
export function createKafkaSubscription(s: KafkaSubscriptionSettings): KafkaSubscription {
  const maxSpan = checkedMaxSpan(s);
  let closing = false;
  let closePromise: Promise<void> | undefined;
  let ackSweeper: NodeJS.Timeout | undefined;
  const parts = createParts(s, maxSpan, () => closing);
  const { partitions, supervisor, committer, flow, dispatcher } = parts;
  const assignments = createAssignments({
    topic: s.topic,
    groupId: s.groupId,
    readTimeoutMs: s.revokeDrainMs,
    logger: s.logger,
    partitions,
    dispatcher,
    committer,
    consumer: () => supervisor.current(),
    isClosing: () => closing,
  });

  /** Stop dispatching everywhere and tell buffered deliveries to give their messages back. */
  const holdAll = (): void => {
    for (const ps of partitions.values()) if (ps.status === 'assigned') ps.status = 'held';
    dispatcher.abortDeliveries();
  };

  /** The driver's callbacks for one member: batches, assignments, rebalances, crashes. */
  const groupHandlers = (): GroupHandlers => {
    let revokeDrain: Promise<void> | undefined;
    return {
      onBatch: parts.onBatch,
      onAssigned: (assignment) => {
        revokeDrain = undefined;
        assignments.onAssigned(assignment);
      },
      onRebalancing: () => {
        holdAll();
        // Issued synchronously, before kafkajs rejoins: still the old generation (commits.ts).
        committer.requestIncludingHeld();
      },
      onRevoke: () => {
        // Concurrent batches learn of the same rebalance: one drain and one commit for all.
        revokeDrain ??= (async () => {
          holdAll();
          await flow.waitForRunning(s.revokeDrainMs);
          await committer.flush();
        })();
        return revokeDrain;
      },
      onCrash: () => holdAll(), // logged by the supervisor
    };
  };

  /** CLOSING: drop what waits, drain what runs (bounded), commit, then leave the group. */
  const shutDown = async (): Promise<void> => {
    holdAll();
    closing = true;
    if (ackSweeper) clearInterval(ackSweeper);
    flow.notifyCapacity(true);
    supervisor.current().pause(s.topic);
    for (const e of dispatcher.lanes.removeWaiting(() => true)) dispatcher.drop(e);
    for (const e of [...dispatcher.retrying]) dispatcher.drop(e);
    for (const ps of partitions.values()) {
      const held = ps.held;
      ps.held = [];
      for (const e of held) dispatcher.drop(e);
    }
    await flow.waitForRunning(s.drainTimeoutMs);
    await committer.flush();
    committer.stop();
    for (const ps of [...partitions.values()]) assignments.revoke(ps);
    for (const e of [...dispatcher.running]) dispatcher.drop(e);
    try {
      await supervisor.stop();
    } finally {
      s.onClosed();
    }
  };

  return {
    topic: s.topic,
    group: s.group,
    async start() {
      ackSweeper = setInterval(dispatcher.sweepAckDeadlines, Math.max(20, Math.min(1_000, Math.floor(s.ackTimeoutMs / 4))));
      ackSweeper.unref?.();
      assignments.readEarly();
      await supervisor.start(groupHandlers());
    },
    unsettled: () => dispatcher.unsettled(),
    span() {
      let n = 0;
      for (const ps of partitions.values()) n += ps.tracker.span();
      return n;
    },
    health: () => supervisor.down(),
    close() {
      closePromise ??= shutDown();
      return closePromise;
    },
  };
}
