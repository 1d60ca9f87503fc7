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
 */
import { ValidationError, type UnavailableError } from '../../errors.js';
import type { DeliveryHandler, Message, Ordering, Subscription } from '../types.js';
import { createCommitter, readCommittedOffsets } from './commits.js';
import { createConsumerSupervisor } from './consumer-supervisor.js';
import { createDispatcher } from './dispatcher.js';
import { bitsThatFit, KAFKA_DEFAULT_METADATA_MAX_BYTES } from './offset-metadata.js';
import type { KafkaBusLogger } from './options.js';
import { newPartitionState, startAtCommitted, type PartitionState } from './partition.js';
import type { BatchControl, CommittedOffset, ConsumedBatch, GroupConsumerPort } from './port.js';

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

/** Create a subscription (not started). */
export function createKafkaSubscription(s: KafkaSubscriptionSettings): KafkaSubscription {
  const maxSpan = s.maxOffsetSpan ?? DEFAULT_MAX_OFFSET_SPAN;
  if (!Number.isSafeInteger(maxSpan) || maxSpan < 1) throw new ValidationError('maxOffsetSpan', `must be an integer >= 1, got ${String(maxSpan)}`);
  // Hysteresis: a span-paused partition resumes once a refill's worth of offsets is free.
  const spanRefill = Math.max(1, Math.floor(maxSpan / 8));
  const partitions = new Map<number, PartitionState>();
  let closing = false;
  let closePromise: Promise<void> | undefined;
  const drainWaiters = new Set<() => void>();
  const supervisor = createConsumerSupervisor({ topic: s.topic, groupId: s.groupId, newConsumer: s.consumer, logger: s.logger });
  const committer = createCommitter({
    topic: s.topic,
    groupId: s.groupId,
    partitions: () => partitions.values(),
    consumer: () => supervisor.current(),
    logger: s.logger,
  });

  // ---- flow control ----------------------------------------------------------------------------
  // At the cap, onBatch waits (heartbeating) instead of returning: kafkajs fetches again only
  // after every batch of the previous fetch returned, so waiting there *is* the pause, with no
  // fetch-loop sleep before the resume (a consumer.pause()/resume() cycle costs up to one
  // maxWaitTime per refill), and only this member's own heartbeat runs while it waits: the
  // rebalance hook (onRevoke) sees every rebalance that happens at the cap. The offset span, in
  // contrast, is per partition: a partition at its span bound is paused (consumer.pause), so one
  // stuck message stalls only its own partition.
  const capacityWaiters = new Set<() => void>();
  // Hysteresis: a batch waiting at the cap is woken when a refill's worth of slots is free, not
  // on every settle (each wake costs a promise, a timer and a heartbeat call).
  const refill = Math.max(1, Math.floor(s.maxInFlight / 8));
  const notifyCapacity = (force = false): void => {
    if (!force && unsettledNow() > s.maxInFlight - refill) return;
    for (const w of capacityWaiters) w();
  };
  const admitting = (control: BatchControl, ps: PartitionState): boolean =>
    control.isActive() && ps.status === 'assigned' && partitions.get(ps.partition) === ps && !closing;
  const waitForCapacity = async (control: BatchControl, ps: PartitionState): Promise<boolean> => {
    while (unsettledNow() >= s.maxInFlight) {
      if (!admitting(control, ps)) return false;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          capacityWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, s.heartbeatTickMs);
        capacityWaiters.add(done);
      });
      await control.heartbeat();
    }
    return admitting(control, ps);
  };
  const notifyDrain = (): void => {
    notifyCapacity();
    if (dispatcher.running.size === 0) for (const w of drainWaiters) w();
  };
  const dispatcher = createDispatcher({
    topic: s.topic,
    handler: s.handler,
    ordering: s.ordering,
    ackTimeoutMs: s.ackTimeoutMs,
    redeliveryDelayMs: s.redeliveryDelayMs,
    inMemoryRedeliveryMaxMs: s.inMemoryRedeliveryMaxMs,
    republishLater: s.republishLater,
    logger: s.logger,
    isClosing: () => closing,
    onHeadMoved: (ps) => headMoved(ps),
    onMetadataChanged: () => committer.requestMetadata(),
    onSlotFreed: () => notifyDrain(),
  });
  const { running, retrying, lanes } = dispatcher;
  const unsettledNow = (): number => dispatcher.unsettled();

  /** The head of `ps` moved: commit, and resume a span-paused partition once there is room. */
  const headMoved = (ps: PartitionState): void => {
    committer.request();
    if (ps.spanPaused && ps.tracker.span() <= maxSpan - spanRefill) {
      ps.spanPaused = false;
      supervisor.current().resume(s.topic, [ps.partition]);
    }
  };

  let ackSweeper: NodeJS.Timeout | undefined;

  // ---- group callbacks ---------------------------------------------------------------------------
  const onBatch = async (batch: ConsumedBatch, control: BatchControl): Promise<void> => {
    let ps = partitions.get(batch.partition);
    if (ps && !ps.ready && ps.loading) {
      await ps.loading; // the committed offset and metadata decide what to skip
      ps = partitions.get(batch.partition);
    }
    if (!ps || !ps.ready || ps.status !== 'assigned' || closing) return;
    for (const r of batch.records) {
      if (!admitting(control, ps)) break;
      const next = ps.tracker.nextOffset();
      if (next !== undefined && r.offset < next) {
        // Refetched after a rebalance kept this partition: already tracked (running or settled).
        control.advance(r.offset);
        continue;
      }
      if (ps.tracker.unsettled() > 0 && r.offset - ps.tracker.committable()! + 1 > maxSpan) {
        // Span bound: stop fetching this partition until its oldest unsettled offset settles
        // (headMoved resumes it). Records not advanced are fetched again.
        ps.spanPaused = true;
        supervisor.current().pause(s.topic, [ps.partition]);
        break;
      }
      if (ps.skip?.has(r.offset)) {
        // Settled before a crash or rebalance (commit metadata): not delivered again.
        if (ps.tracker.add(r.offset, true)) committer.request();
        control.advance(r.offset);
        continue;
      }
      // Hard cap: wait for a free slot (see waitForCapacity); records not admitted are fetched again.
      if (unsettledNow() >= s.maxInFlight && !(await waitForCapacity(control, ps))) break;
      ps.tracker.add(r.offset);
      control.advance(r.offset);
      dispatcher.admit(ps, r);
    }
    if (ps.skip && ps.tracker.nextOffset() !== undefined && ps.tracker.nextOffset()! >= ps.skip.end) ps.skip = undefined;
    // kafkajs heartbeats only between fetches and when asked inside eachBatch: ask.
    await control.heartbeat();
  };

  /** Stop dispatching everywhere and tell buffered deliveries to give their messages back. */
  const holdAll = (): void => {
    for (const ps of partitions.values()) if (ps.status === 'assigned') ps.status = 'held';
    dispatcher.abortDeliveries();
  };

  const waitForRunning = async (timeoutMs: number): Promise<void> => {
    if (running.size === 0) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        drainWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      drainWaiters.add(done);
    });
  };

  const revoke = (ps: PartitionState): void => {
    ps.status = 'revoked';
    dispatcher.abortDeliveries(ps);
    if (partitions.get(ps.partition) === ps) partitions.delete(ps.partition);
    const held = ps.held;
    ps.held = [];
    for (const e of held) dispatcher.drop(e);
    for (const e of lanes.removeWaiting((x) => x.ps === ps)) dispatcher.drop(e);
    for (const e of [...retrying]) if (e.ps === ps) dispatcher.drop(e);
    // RUNNING entries of ps keep their slot until their handler returns; their settle is ignored.
  };

  /** Make `ps` dispatch again (its committed offset is known). */
  const activate = (ps: PartitionState): void => {
    ps.ready = true;
    ps.loading = undefined;
    const held = ps.held;
    ps.held = [];
    for (const e of held) dispatcher.dispatch(e);
  };

  const readCommitted = (): Promise<Map<number, CommittedOffset> | undefined> =>
    readCommittedOffsets(supervisor.current(), s.topic, s.groupId, s.revokeDrainMs, s.logger);

  let assignments = 0;
  // Read while the member joins, for its first assignment: reading only after the assignment
  // held the first records back by a round trip or three (~100 ms under load). Older than the
  // assignment is safe for new partitions: an offset marked settled stays settled, and a group
  // offset that moved on only means fewer records are fetched; a kept partition reads again.
  let earlyRead: Promise<Map<number, CommittedOffset> | undefined> | undefined;
  const onAssigned = (assignment: ReadonlyMap<string, readonly number[]>): void => {
    const epoch = ++assignments;
    const mine = new Set(assignment.get(s.topic) ?? []);
    for (const ps of [...partitions.values()]) if (!mine.has(ps.partition)) revoke(ps);
    if (closing || mine.size === 0) return;
    const consumer = supervisor.current();
    const kept = [...mine].some((p) => partitions.get(p)?.tracker.nextOffset() !== undefined);
    const loading = earlyRead && !kept ? earlyRead.then((m) => m ?? readCommitted()) : readCommitted();
    earlyRead = undefined;
    const pending: PartitionState[] = [];
    for (const p of mine) {
      let ps = partitions.get(p);
      if (ps) {
        ps.status = 'assigned';
        ps.ready = false;
      } else {
        ps = newPartitionState(p);
        partitions.set(p, ps);
        // kafkajs keeps a partition's pause across rebalances: a new state starts unpaused.
        consumer.resume(s.topic, [p]);
      }
      pending.push(ps);
    }
    const done = loading.then((committed) => {
      if (epoch !== assignments) return; // a newer assignment reads again and decides
      for (const ps of pending) {
        if (partitions.get(ps.partition) !== ps || ps.status !== 'assigned') continue;
        const c = committed?.get(ps.partition);
        if (ps.tracker.nextOffset() === undefined) {
          // New (or nothing fetched yet): start from the group's offset and metadata.
          activate(startAtCommitted(ps, c));
        } else if (c && c.offset > ps.tracker.committable()!) {
          // U3: the group committed past our oldest unsettled offset while this member was
          // fenced: another member owned the partition. Our tracker is stale; start over from
          // the group's offset (what we were running is released; its settles are ignored).
          s.logger?.warn({ topic: s.topic, partition: ps.partition, ours: ps.tracker.committable(), group: c.offset }, 'kafka: the group committed past this member\'s position; starting over from the group\'s offset');
          revoke(ps);
          const f = startAtCommitted(newPartitionState(ps.partition), c);
          partitions.set(ps.partition, f);
          if (ps.spanPaused) consumer.resume(s.topic, [ps.partition]);
          activate(f);
        } else {
          if (c && c.offset > ps.committed) ps.committed = c.offset; // never commit below it
          activate(ps);
        }
      }
      committer.request();
    });
    for (const ps of pending) ps.loading = done;
  };

  const subscription: KafkaSubscription = {
    topic: s.topic,
    group: s.group,
    async start() {
      ackSweeper = setInterval(dispatcher.sweepAckDeadlines, Math.max(20, Math.min(1_000, Math.floor(s.ackTimeoutMs / 4))));
      ackSweeper.unref?.();
      let revokeDrain: Promise<void> | undefined;
      earlyRead = readCommitted();
      await supervisor.start({
        onBatch,
        onAssigned: (assignment) => {
          revokeDrain = undefined;
          onAssigned(assignment);
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
            await waitForRunning(s.revokeDrainMs);
            await committer.flush();
          })();
          return revokeDrain;
        },
        onCrash: () => holdAll(), // logged by the supervisor
      });
    },
    unsettled: unsettledNow,
    span() {
      let n = 0;
      for (const ps of partitions.values()) n += ps.tracker.span();
      return n;
    },
    health: () => supervisor.down(),
    close() {
      closePromise ??= (async () => {
        holdAll();
        closing = true;
        if (ackSweeper) clearInterval(ackSweeper);
        notifyCapacity(true);
        supervisor.current().pause(s.topic);
        for (const e of lanes.removeWaiting(() => true)) dispatcher.drop(e);
        for (const e of [...retrying]) dispatcher.drop(e);
        for (const ps of partitions.values()) {
          const held = ps.held;
          ps.held = [];
          for (const e of held) dispatcher.drop(e);
        }
        await waitForRunning(s.drainTimeoutMs);
        await committer.flush();
        committer.stop();
        for (const ps of [...partitions.values()]) revoke(ps);
        for (const e of [...running]) dispatcher.drop(e);
        try {
          await supervisor.stop();
        } finally {
          s.onClosed();
        }
      })();
      return closePromise;
    },
  };
  return subscription;
}
