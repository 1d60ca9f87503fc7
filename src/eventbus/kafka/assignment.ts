/**
 * The assignment side of a subscription: the partition transitions of subscription.ts's state
 * machine that a group assignment causes.
 *
 * - A partition in the new assignment becomes ASSIGNED but not ready; once the group's committed
 *   offset and metadata are read it is activated (its held entries dispatched). A new partition
 *   starts from the group's offset; a kept one whose group offset moved past ours (another
 *   member owned it while this one was fenced, U3) starts over from the group's offset; any
 *   other kept one continues, never committing below the highest committed offset known.
 * - A partition not in the new assignment is REVOKED: its queued entries are dropped, settles of
 *   its running handlers ignored.
 * - `assignments` counts assignments: a read that finishes after a newer assignment decides
 *   nothing (the newer one reads again).
 */
import { readCommittedOffsets, type Committer } from './commits.js';
import type { Dispatcher } from './dispatcher.js';
import type { KafkaBusLogger } from './options.js';
import { newPartitionState, startAtCommitted, type PartitionState } from './partition.js';
import type { CommittedOffset, GroupConsumerPort } from './port.js';

/** What assignment handling needs. */
export interface AssignmentDeps {
  readonly topic: string;
  readonly groupId: string;
  /** Bound on a read of the committed offsets (a batch waits for it). */
  readonly readTimeoutMs: number;
  readonly logger: KafkaBusLogger | undefined;
  readonly partitions: Map<number, PartitionState>;
  readonly dispatcher: Dispatcher;
  readonly committer: Pick<Committer, 'request'>;
  /** The current group member. */
  readonly consumer: () => GroupConsumerPort;
  readonly isClosing: () => boolean;
}

/** Assignment handling of one subscription. */
export interface Assignments {
  /**
   * Start reading the committed offsets while the member joins, for its first assignment:
   * reading only after the assignment held the first records back by a round trip or three
   * (~100 ms under load). Older than the assignment is safe for new partitions: an offset marked
   * settled stays settled, and a group offset that moved on only means fewer records are
   * fetched; a kept partition reads again.
   */
  readEarly(): void;
  /** The group assigned partitions to this member. */
  onAssigned(assignment: ReadonlyMap<string, readonly number[]>): void;
  /** REVOKED: drop what `ps` queued; its running handlers' settles are ignored. */
  revoke(ps: PartitionState): void;
}

type Committed = Map<number, CommittedOffset> | undefined;

/** Create the assignment handling. */
export function createAssignments(d: AssignmentDeps): Assignments {
  const { partitions, dispatcher } = d;
  let assignments = 0;
  let earlyRead: Promise<Committed> | undefined;

  const readCommitted = (): Promise<Committed> => readCommittedOffsets(d.consumer(), d.topic, d.groupId, d.readTimeoutMs, d.logger);

  const revoke = (ps: PartitionState): void => {
    ps.status = 'revoked';
    dispatcher.abortDeliveries(ps);
    if (partitions.get(ps.partition) === ps) partitions.delete(ps.partition);
    const held = ps.held;
    ps.held = [];
    for (const e of held) dispatcher.drop(e);
    for (const e of dispatcher.lanes.removeWaiting((x) => x.ps === ps)) dispatcher.drop(e);
    for (const e of [...dispatcher.retrying]) if (e.ps === ps) dispatcher.drop(e);
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

  /** The committed offsets were read: activate each pending partition from the right place. */
  const loaded = (pending: readonly PartitionState[], committed: Committed): void => {
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
        d.logger?.warn({ topic: d.topic, partition: ps.partition, ours: ps.tracker.committable(), group: c.offset }, 'kafka: the group committed past this member\'s position; starting over from the group\'s offset');
        revoke(ps);
        const fresh = startAtCommitted(newPartitionState(ps.partition), c);
        partitions.set(ps.partition, fresh);
        if (ps.spanPaused) d.consumer().resume(d.topic, [ps.partition]);
        activate(fresh);
      } else {
        if (c && c.offset > ps.committed) ps.committed = c.offset; // never commit below it
        activate(ps);
      }
    }
    d.committer.request();
  };

  const onAssigned = (assignment: ReadonlyMap<string, readonly number[]>): void => {
    const epoch = ++assignments;
    const mine = new Set(assignment.get(d.topic) ?? []);
    for (const ps of [...partitions.values()]) if (!mine.has(ps.partition)) revoke(ps);
    if (d.isClosing() || mine.size === 0) return;
    const consumer = d.consumer();
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
        consumer.resume(d.topic, [p]);
      }
      pending.push(ps);
    }
    const done = loading.then((committed) => {
      if (epoch === assignments) loaded(pending, committed); // else a newer assignment reads again and decides
    });
    for (const ps of pending) ps.loading = done;
  };

  return {
    readEarly() {
      earlyRead = readCommitted();
    },
    onAssigned,
    revoke,
  };
}
