/**
 * One subscription = one consumer group member (`groupId(group, topic)`) with its own
 * dispatcher: messages of a partition run concurrently (subject to the ordering lanes), at
 * most `maxInFlight` are unsettled at once, and only the contiguous settled prefix of each
 * partition is committed.
 *
 * Partition state machine (one `PartitionState` per assigned partition):
 *
 *   ASSIGNED --rebalancing / close--> HELD --assigned again--> ASSIGNED
 *                                      |
 *                                      +--not in new assignment / closed--> REVOKED (terminal)
 *
 * - ASSIGNED: fetched records are admitted, waiting ones dispatched, settled prefixes committed.
 * - HELD: nothing new is dispatched (waiting messages stay queued); in-flight handlers keep
 *   running, their settles are recorded and committed while the old generation still allows it.
 * - REVOKED: the tracker is dropped, queued messages are released, settles of handlers still
 *   running are ignored (no commit for a partition this member no longer owns); such messages
 *   may be delivered again by the new owner (bounded duplicates).
 *
 * Message state: WAITING (admitted, behind its lane) -> RUNNING -> DONE, or RUNNING -> RETRYING
 * (rejected; timer) -> RUNNING. A rejected message keeps its offset uncommitted and its lane
 * (key) blocked, so neither a commit nor a same-key successor can pass it.
 */
import { describeError } from '../../jobs/errors.js';
import {
  DeliveryTerminated,
  RedeliverAfter,
  type Delivery,
  type DeliveryHandler,
  type Message,
  type Ordering,
  type Subscription,
} from '../types.js';
import { createLanes, laneOf } from './lanes.js';
import type { KafkaBusLogger } from './options.js';
import type { BatchControl, CommitOffset, ConsumedBatch, GroupConsumerPort } from './port.js';
import { createPartitionTracker, type PartitionTracker } from './tracker.js';
import { DUE_AT_HEADER, toMessage } from './wire.js';

type PartitionStatus = 'assigned' | 'held' | 'revoked';

interface PartitionState {
  readonly partition: number;
  readonly tracker: PartitionTracker;
  status: PartitionStatus;
  /** Last offset committed (next offset to read), or -1. */
  committed: number;
  /** Entries that became runnable while HELD, in order. */
  held: Entry[];
}

type EntryState = 'waiting' | 'running' | 'retrying' | 'done';

interface Entry {
  readonly ps: PartitionState;
  readonly offset: number;
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
}

/** Everything a subscription needs. */
export interface KafkaSubscriptionSettings {
  readonly topic: string;
  readonly group: string;
  readonly groupId: string;
  readonly handler: DeliveryHandler;
  readonly ordering: Ordering;
  readonly maxInFlight: number;
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
  readonly consumer: GroupConsumerPort;
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
}

const COMMIT_RETRY_MS = 500;

/**
 * Remove the due-time header of a message that reached its topic early (a delay shorter than
 * the smallest tier, see tiers.ts) and return the due time; undefined when there is none.
 */
function takeDueAt(message: Message): number | undefined {
  const raw = message.headers?.[DUE_AT_HEADER];
  if (raw === undefined) return undefined;
  delete (message.headers as Record<string, string>)[DUE_AT_HEADER];
  const due = Number(raw);
  return Number.isFinite(due) ? due : undefined;
}

/** Create a subscription (not started). */
export function createKafkaSubscription(s: KafkaSubscriptionSettings): KafkaSubscription {
  const partitions = new Map<number, PartitionState>();
  const lanes = createLanes<Entry>();
  const running = new Set<Entry>();
  const retrying = new Set<Entry>();
  let unsettled = 0;
  let closing = false;
  let closePromise: Promise<void> | undefined;
  const drainWaiters = new Set<() => void>();

  // ---- commits: single flight, coalesced; only partitions not REVOKED -------------------------
  let commitInFlight: Promise<void> | undefined;
  let commitDirty = false;
  let commitRetry: NodeJS.Timeout | undefined;

  const commitNow = async (): Promise<void> => {
    while (commitDirty) {
      commitDirty = false;
      const offsets: CommitOffset[] = [];
      const states: [PartitionState, number][] = [];
      for (const ps of partitions.values()) {
        if (ps.status === 'revoked') continue;
        const c = ps.tracker.committable();
        if (c !== undefined && c > ps.committed) {
          offsets.push({ topic: s.topic, partition: ps.partition, offset: c });
          states.push([ps, c]);
        }
      }
      if (!offsets.length) return;
      try {
        await s.consumer.commit(offsets);
        for (const [ps, c] of states) if (c > ps.committed) ps.committed = c;
      } catch (err) {
        // Typical during a rebalance (generation moved on) or before the first batch. The
        // offsets stay uncommitted: at worst those messages are delivered again.
        s.logger?.debug?.({ topic: s.topic, groupId: s.groupId, err: describeError(err) }, 'kafka commit failed');
        if (!closing && !commitRetry) {
          commitRetry = setTimeout(() => {
            commitRetry = undefined;
            requestCommit();
          }, COMMIT_RETRY_MS);
          commitRetry.unref?.();
        }
        return;
      }
    }
  };

  const flushCommits = async (): Promise<void> => {
    commitDirty = true;
    while (commitInFlight) await commitInFlight;
    commitInFlight = commitNow().finally(() => {
      commitInFlight = undefined;
    });
    await commitInFlight;
  };

  function requestCommit(): void {
    commitDirty = true;
    if (commitInFlight) return; // the running loop picks it up
    commitInFlight = commitNow().finally(() => {
      commitInFlight = undefined;
      if (commitDirty && !commitRetry) requestCommit();
    });
  }

  // ---- flow control ----------------------------------------------------------------------------
  // At the cap, onBatch waits (heartbeating) instead of returning: kafkajs fetches again only
  // after every batch of the previous fetch returned, so waiting there *is* the pause, with no
  // fetch-loop sleep before the resume (a consumer.pause()/resume() cycle costs up to one
  // maxWaitTime per refill), and only this member's own heartbeat runs while it waits: the
  // rebalance hook (onRevoke) sees every rebalance that happens at the cap.
  const capacityWaiters = new Set<() => void>();
  // Hysteresis: a batch waiting at the cap is woken when a refill's worth of slots is free, not
  // on every settle (each wake costs a promise, a timer and a heartbeat call).
  const refill = Math.max(1, Math.floor(s.maxInFlight / 8));
  const notifyCapacity = (force = false): void => {
    if (!force && unsettled > s.maxInFlight - refill) return;
    for (const w of capacityWaiters) w();
  };
  const waitForCapacity = async (control: BatchControl, ps: PartitionState): Promise<boolean> => {
    while (unsettled >= s.maxInFlight) {
      if (!control.isActive() || ps.status !== 'assigned' || closing) return false;
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
    return control.isActive() && ps.status === 'assigned' && !closing;
  };
  const notifyDrain = (): void => {
    notifyCapacity();
    if (running.size === 0) for (const w of drainWaiters) w();
  };

  // ---- dispatch --------------------------------------------------------------------------------
  const dispatch = (e: Entry): void => {
    if (e.ps.status === 'assigned' && !closing) start(e);
    else if (e.ps.status === 'held') e.ps.held.push(e);
    else drop(e);
  };

  /** Forget an entry that will not run (partition revoked or subscription closing). */
  const drop = (e: Entry): void => {
    if (e.state === 'done') return;
    if (e.timer) clearTimeout(e.timer);
    retrying.delete(e);
    running.delete(e);
    e.state = 'done';
    e.run++;
    unsettled--;
    const next = lanes.release(e.lane);
    if (next) dispatch(next);
    notifyDrain();
  };

  const finish = (e: Entry): void => {
    if (e.timer) clearTimeout(e.timer);
    running.delete(e);
    retrying.delete(e);
    e.state = 'done';
    unsettled--;
    if (e.ps.status !== 'revoked' && e.ps.tracker.settle(e.offset)) requestCommit();
    const next = lanes.release(e.lane);
    if (next) dispatch(next);
    notifyDrain();
  };

  /**
   * Run `e` again after `delayMs`, holding it (and its lane) in memory meanwhile. A redelivery
   * counts as a delivery; holding an early message until due does not.
   */
  const scheduleRetry = (e: Entry, delayMs: number, redelivery = true): void => {
    running.delete(e);
    notifyDrain();
    e.state = 'retrying';
    retrying.add(e);
    e.timer = setTimeout(() => {
      e.timer = undefined;
      if (e.state !== 'retrying') return;
      retrying.delete(e);
      if (redelivery) e.deliveryCount++;
      e.state = 'waiting';
      dispatch(e);
    }, delayMs);
  };

  const onRejected = (e: Entry, err: unknown): void => {
    if (err instanceof DeliveryTerminated) {
      finish(e); // settled elsewhere (e.g. copied to the DLQ): committable like an ack
      return;
    }
    const delayMs = err instanceof RedeliverAfter ? err.delayMs : s.redeliveryDelayMs;
    if (delayMs <= s.inMemoryRedeliveryMaxMs || e.ps.status === 'revoked') {
      scheduleRetry(e, delayMs);
      return;
    }
    // A long wait would pin memory and hold back the partition's commit: persist the wait in
    // the delay topics and count this copy as settled. (Its same-key successors may then run
    // before it: a long RedeliverAfter gives up key order for that message, by design.)
    running.delete(e);
    e.state = 'retrying';
    retrying.add(e);
    const run = e.run;
    s.republishLater(e.message, new Date(Date.now() + delayMs)).then(
      () => {
        if (e.run === run && e.state === 'retrying') finish(e);
      },
      (pubErr: unknown) => {
        s.logger?.warn({ topic: s.topic, err: describeError(pubErr) }, 'kafka: could not persist a redelivery; retrying in memory');
        if (e.run === run && e.state === 'retrying') {
          retrying.delete(e);
          scheduleRetry(e, s.redeliveryDelayMs);
        }
      },
    );
  };

  function start(e: Entry): void {
    if (e.dueAt !== undefined) {
      // Checked again when the timer fires: a timer can fire a millisecond before Date.now()
      // reaches its target.
      const early = e.dueAt - Date.now();
      if (early > 0) {
        scheduleRetry(e, early, false);
        return;
      }
      e.dueAt = undefined;
    }
    e.state = 'running';
    running.add(e);
    const run = ++e.run;
    e.ackDeadline = Date.now() + s.ackTimeoutMs;
    const delivery: Delivery = {
      topic: s.topic,
      message: e.message,
      deliveryCount: e.deliveryCount,
      get position() {
        return position(e); // built on demand: most handlers never read it
      },
      working: () => {
        if (e.run === run && e.state === 'running') e.ackDeadline = Date.now() + s.ackTimeoutMs;
      },
    };
    let result: Promise<void>;
    try {
      result = Promise.resolve(s.handler(delivery));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      () => {
        if (e.run !== run || e.state !== 'running') return;
        finish(e);
      },
      (err: unknown) => {
        if (e.run !== run || e.state !== 'running') return;
        onRejected(e, err);
      },
    );
  }

  // One sweep over the (at most maxInFlight) running entries instead of a timer per delivery.
  let ackSweeper: NodeJS.Timeout | undefined;
  const sweepAckDeadlines = (): void => {
    const now = Date.now();
    for (const e of [...running]) {
      if (e.state !== 'running' || now < e.ackDeadline) continue;
      // Presumed dead: the late settle of this run is ignored and the message delivered again.
      e.run++;
      s.logger?.warn({ topic: s.topic, position: position(e) }, 'kafka: handler neither settled nor called working() within ackTimeoutMs; redelivering');
      scheduleRetry(e, 0);
    }
  };

  const position = (e: Entry): string => `${s.topic}/${e.ps.partition}@${e.offset}`;

  // ---- group callbacks ---------------------------------------------------------------------------
  const onBatch = async (batch: ConsumedBatch, control: BatchControl): Promise<void> => {
    const ps = partitions.get(batch.partition);
    if (!ps || ps.status !== 'assigned' || closing) return;
    for (const r of batch.records) {
      if (!control.isActive() || ps.status !== 'assigned' || closing) break;
      if (ps.tracker.nextOffset() !== undefined && r.offset < ps.tracker.nextOffset()!) {
        // Refetched after a rebalance kept this partition: already tracked (running or settled).
        control.advance(r.offset);
        continue;
      }
      // Hard cap: wait for a free slot (see waitForCapacity); records not admitted are fetched again.
      if (unsettled >= s.maxInFlight && !(await waitForCapacity(control, ps))) break;
      ps.tracker.add(r.offset);
      control.advance(r.offset);
      let message: Message;
      try {
        message = toMessage(r.key, r.value, r.headers);
      } catch {
        message = { value: new Uint8Array(0), headers: {} }; // unreachable in practice; never block the partition
      }
      const dueAt = takeDueAt(message);
      const e: Entry = {
        ps,
        offset: r.offset,
        lane: laneOf(s.ordering, ps.partition, message.key),
        message,
        state: 'waiting',
        deliveryCount: 1,
        run: 0,
        timer: undefined,
        ackDeadline: 0,
        dueAt,
      };
      unsettled++;
      if (lanes.admit(e.lane, e)) start(e);
    }
    // kafkajs heartbeats only between fetches and when asked inside eachBatch: ask.
    await control.heartbeat();
  };

  const holdAll = (): void => {
    for (const ps of partitions.values()) if (ps.status === 'assigned') ps.status = 'held';
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
    partitions.delete(ps.partition);
    const held = ps.held;
    ps.held = [];
    for (const e of held) drop(e);
    for (const e of lanes.removeWaiting((x) => x.ps === ps)) drop(e);
    for (const e of [...retrying]) if (e.ps === ps) drop(e);
    // RUNNING entries of ps keep their slot until their handler returns; their settle is ignored.
  };

  const onAssigned = (assignment: ReadonlyMap<string, readonly number[]>): void => {
    const mine = new Set(assignment.get(s.topic) ?? []);
    for (const ps of [...partitions.values()]) if (!mine.has(ps.partition)) revoke(ps);
    if (closing) return;
    for (const p of mine) {
      const ps = partitions.get(p);
      if (!ps) {
        partitions.set(p, { partition: p, tracker: createPartitionTracker(), status: 'assigned', committed: -1, held: [] });
        continue;
      }
      ps.status = 'assigned';
      const held = ps.held;
      ps.held = [];
      for (const e of held) dispatch(e);
    }
    requestCommit();
  };

  const subscription: KafkaSubscription = {
    topic: s.topic,
    group: s.group,
    async start() {
      ackSweeper = setInterval(sweepAckDeadlines, Math.max(20, Math.min(1_000, Math.floor(s.ackTimeoutMs / 4))));
      ackSweeper.unref?.();
      await s.consumer.start({
        onBatch,
        onAssigned,
        onRebalancing: () => {
          holdAll();
          requestCommit();
        },
        onRevoke: async () => {
          holdAll();
          await waitForRunning(s.revokeDrainMs);
          await flushCommits();
        },
        onCrash: (err) => {
          holdAll();
          s.logger?.warn({ topic: s.topic, groupId: s.groupId, err: describeError(err) }, 'kafka consumer crashed; restarting');
        },
      });
    },
    unsettled: () => unsettled,
    close() {
      closePromise ??= (async () => {
        holdAll();
        closing = true;
        if (ackSweeper) clearInterval(ackSweeper);
        notifyCapacity(true);
        try {
          s.consumer.pause(s.topic);
        } catch {
          // not running: nothing to pause
        }
        for (const e of lanes.removeWaiting(() => true)) drop(e);
        for (const e of [...retrying]) drop(e);
        for (const ps of partitions.values()) {
          const held = ps.held;
          ps.held = [];
          for (const e of held) drop(e);
        }
        await waitForRunning(s.drainTimeoutMs);
        if (commitRetry) clearTimeout(commitRetry);
        commitRetry = undefined;
        await flushCommits();
        for (const ps of [...partitions.values()]) revoke(ps);
        for (const e of [...running]) drop(e);
        try {
          await s.consumer.stop();
        } finally {
          s.onClosed();
        }
      })();
      return closePromise;
    },
  };
  return subscription;
}
