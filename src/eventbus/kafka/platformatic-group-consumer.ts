/**
 * The {@link GroupConsumerPort} over `@platformatic/kafka` (part of the platformatic driver).
 *
 * Membership is the library's: `joinGroup` (classic protocol, round-robin assignment) and its
 * heartbeat timer, which runs on its own connection whatever the handlers do (heartbeats during
 * long handlers need nothing from us; {@link BatchControl.heartbeat} only reports a rebalance).
 * The rest is ours, because the library's `MessagesStream` cannot pause one partition, moves its
 * fetch position by itself, and its `commit` sends no metadata and rejoins and retries:
 * - fetch loop: the assigned, not paused partitions at our own positions (moved only by
 *   `advance`), batches handed over `partitionsConcurrently` at once. While they are delivered
 *   the next fetch is already under way, at the positions they will leave (one fetch in flight,
 *   at most two fetched in memory); a partition whose delivery stops short has its prefetched
 *   records dropped and fetched again (a batch waiting at the cap still holds the loop: the pause);
 * - fetch errors: retried with backoff; when every partition keeps failing (access denied
 *   after a few attempts, anything else for a session timeout) the member crashes (below);
 * - positions (platformatic-positions.ts): on every assignment, the group's committed offset, else
 *   the earliest; an out-of-range position restarts at the earliest retained;
 * - commit (platformatic-commit.ts): one OffsetCommit request with metadata, on a connection of its own (never queued
 *   behind a long-polling fetch or a parked JoinGroup), with the generation the member had when it
 *   learned of a rebalance (pinned until the next assignment) or else the current one;
 * - rebalance: the library announces one (`consumer:group:rebalance`) and rejoins at once; we stop
 *   fetching, call onRebalancing, then onRevoke (its commit still carries the old generation);
 *   the library's JoinGroup request waits until onRevoke settled (platformatic-commit.ts). A rejoin without announcement
 *   (fenced member) is reported as a rebalance too, before the new assignment;
 * - crash: a handler error, a failed rejoin or a lasting fetch failure stops the member for good (`restarting: false`); it
 *   leaves the group at once and a new consumer brings it back (consumer-supervisor.ts).
 */
import type * as Plt from '@platformatic/kafka';
import { describeError, UnavailableError } from '../../errors.js';
import { groupCommitted, watermarks } from './platformatic-admin.js';
import type { PltConnection, PltModule } from './platformatic-driver.js';
import { hasProtocolError, normalize } from './platformatic-errors.js';
import { holdJoinWhile, sendCommit } from './platformatic-commit.js';
import { eachLimited, fetchTargets, key, positionsAfter, startPositions } from './platformatic-positions.js';
import { closeForced, createFetchFailures, fetchPartitions, type FetchedPartition, type FetchTarget } from './platformatic-fetch.js';
import type { KafkaBusLogger } from './options.js';
import type { BatchControl, GroupConsumerPort, GroupConsumerSettings, GroupHandlers } from './port.js';

/** The shared admin client of the driver (one use). */
export interface HeldAdmin {
  readonly admin: Plt.Admin;
  release(): Promise<void>;
}

/** Rejection of {@link BatchControl.heartbeat} once the group rebalances (or the member stopped). */
class RebalancingError extends UnavailableError {}

/** A fetch under way, and the epoch it was started in (its records are stale in any other). */
type Fetching = { readonly ep: number; readonly result: Promise<{ readonly fetched: FetchedPartition[]; readonly errors: unknown[] }> };

/** A group consumer over `@platformatic/kafka`. */
export function createPlatformaticGroupConsumer(
  mod: PltModule,
  connection: PltConnection,
  settings: GroupConsumerSettings,
  logger: KafkaBusLogger | undefined,
  acquireAdmin: () => HeldAdmin,
): GroupConsumerPort {
  const where = { groupId: settings.groupId };
  const consumer = new mod.Consumer({
    ...connection,
    groupId: settings.groupId,
    autocommit: false,
    sessionTimeout: settings.sessionTimeoutMs,
    rebalanceTimeout: settings.rebalanceTimeoutMs,
    heartbeatInterval: settings.heartbeatIntervalMs,
    maxWaitTime: settings.maxWaitTimeMs,
    isolationLevel: 0,
  });
  const fetchPool = new mod.ConnectionPool(connection.clientId, { ...connection });
  const commitPool = new mod.ConnectionPool(connection.clientId, { ...connection });
  const admin = acquireAdmin();
  let handlers: GroupHandlers | undefined;
  let stopped = false;
  let crashed = false;
  let joined = false;
  /** Bumped on every rebalance, assignment, crash and stop: batches of an older epoch are stale. */
  let epoch = 0;
  let generation = 0;
  let assignment: Map<string, number[]> | undefined;
  /** Generation and member of the last assignment, pinned while a rebalance is announced. */
  let pinned: { generationId: number; memberId: string } | undefined;
  let revoking: Promise<void> | undefined;
  let joinChain: Promise<void> = Promise.resolve();
  const positions = new Map<string, number>();
  /** Bumped per partition when its position is reset (out of range): its batches are stale. */
  const resets = new Map<string, number>();
  const paused = new Set<string>();
  const pausedTopics = new Set<string>();
  const waiters = new Set<() => void>();
  let loop: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  // Every waiter (the fetch loop, a committed-offset retry) wakes on a poke, not only the last.
  const idle = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  const poke = (): void => [...waiters].forEach((done) => done());

  const closeAll = (): Promise<void> => {
    closing ??= (async () => {
      epoch++;
      poke();
      await closeForced(consumer).catch((err: unknown) => logger?.debug?.({ ...where, err: describeError(err) }, 'kafka: leaving the group failed'));
      await Promise.allSettled([fetchPool.close(), commitPool.close()]);
    })();
    return closing;
  };

  const crash = (err: unknown): void => {
    if (stopped || crashed) return;
    crashed = true;
    assignment = undefined;
    void closeAll();
    handlers?.onCrash(normalize(err), false);
  };

  const onRebalance = (): void => {
    if (stopped || crashed || !joined) return;
    const wasAssigned = assignment !== undefined;
    epoch++;
    assignment = undefined;
    if (!pinned && consumer.memberId) pinned = { generationId: consumer.generationId, memberId: consumer.memberId };
    handlers?.onRebalancing();
    if (wasAssigned && handlers?.onRevoke && !revoking) {
      revoking = handlers
        .onRevoke()
        .catch((err: unknown) => logger?.warn({ ...where, err: describeError(err) }, 'kafka: draining before a rebalance failed'))
        .finally(() => (revoking = undefined));
    }
  };

  const onJoin = async (payload: Plt.ConsumerGroupJoinPayload): Promise<void> => {
    if (revoking) await revoking;
    if (stopped || crashed) return;
    if (joined && (assignment !== undefined || !pinned)) {
      // A rejoin nobody announced (fenced member): partitions may have moved meanwhile.
      epoch++;
      assignment = undefined;
      handlers?.onRebalancing();
    }
    joined = true;
    pinned = undefined;
    const ep = ++epoch;
    const map = new Map<string, number[]>();
    for (const a of payload.assignments ?? consumer.assignments ?? []) if (settings.topics.includes(a.topic)) map.set(a.topic, [...a.partitions]);
    generation++;
    handlers?.onAssigned(map, generation);
    for (let attempt = 0; ; attempt++) {
      try {
        positions.clear();
        for (const [topic, partitions] of map) for (const [p, o] of await startPositions(admin.admin, settings.groupId, topic, partitions)) positions.set(key(topic, p), o);
        break;
      } catch (err) {
        if (ep !== epoch) return;
        logger?.warn({ ...where, err: describeError(err) }, 'kafka: reading the committed offsets of a new assignment failed; trying again');
        await idle(Math.min(5_000, 250 * 2 ** attempt));
        if (ep !== epoch) return;
      }
    }
    if (ep !== epoch) return;
    assignment = map;
    poke();
  };

  /** Hand one fetched partition to the handlers; false when the member must stop. */
  const deliver = async (f: FetchedPartition, ep: number): Promise<void> => {
    const k = key(f.topic, f.partition);
    const reset = resets.get(k) ?? 0;
    const active = (): boolean => !stopped && !crashed && ep === epoch && (resets.get(k) ?? 0) === reset;
    // Fetched for another position (a prefetch behind a batch that stopped short): not these records.
    if (positions.get(k) !== f.from) return;
    if (f.outOfRange !== undefined) {
      const low = f.outOfRange >= 0 ? f.outOfRange : ((await watermarks(admin.admin, f.topic)).find((w) => w.partition === f.partition)?.low ?? 0);
      if (!active()) return;
      logger?.warn({ ...where, topic: f.topic, partition: f.partition, from: positions.get(k), to: low }, 'kafka: fetch position out of range; restarting at the earliest retained offset');
      resets.set(k, reset + 1);
      positions.set(k, low);
      return;
    }
    if (!active() || paused.has(k) || pausedTopics.has(f.topic)) return; // fetched again once resumed
    if (f.records.length) {
      const control: BatchControl = {
        advance: (offset) => {
          if (active()) positions.set(k, offset + 1);
        },
        heartbeat: () => (active() ? Promise.resolve() : Promise.reject(new RebalancingError(`group ${settings.groupId} is rebalancing`))),
        isActive: active,
      };
      try {
        await handlers!.onBatch({ topic: f.topic, partition: f.partition, records: f.records }, control);
      } catch (err) {
        if (err instanceof RebalancingError || !active()) return;
        throw err;
      }
    }
    // Control records (transaction markers) after the last data record are passed once every data record was.
    const last = f.records[f.records.length - 1];
    if (f.nextOffset !== undefined && active() && (last === undefined || (positions.get(k) ?? 0) > last.offset)) {
      positions.set(k, Math.max(positions.get(k) ?? 0, f.nextOffset));
    }
  };

  /** Start a fetch of `targets`; its result never rejects (errors are in `errors`). */
  const startFetch = (targets: readonly FetchTarget[]): Fetching => {
    const ep = epoch;
    const errors: unknown[] = [];
    const result = fetchPartitions(mod, consumer, fetchPool, targets, settings, errors).then(
      (fetched) => ({ fetched, errors }),
      (err: unknown) => ({ fetched: [] as FetchedPartition[], errors: [...errors, normalize(err)] }),
    );
    return { ep, result };
  };

  /**
   * The fetch that follows `fetched` once it is delivered, started now (pipelining: the broker
   * reads the next records while these are dispatched). It asks for each partition at the
   * position delivering `fetched` will leave it at if every record is admitted; a partition whose
   * delivery stops short (span pause, cap, pause, reset) ends elsewhere, and {@link deliver} drops
   * the prefetched records of a partition whose position is not where they start. Positions move
   * only through advance, so a dropped prefetch is simply fetched again.
   */
  const prefetchAfter = (fetched: readonly FetchedPartition[]): Fetching | undefined => {
    const after = positionsAfter(fetched, positions);
    if (!after.size) return undefined;
    const targets = fetchTargets(assignment, paused, pausedTopics, (k) => after.get(k) ?? positions.get(k));
    return targets.length ? startFetch(targets) : undefined;
  };

  const run = async (): Promise<void> => {
    const failing = createFetchFailures(settings.sessionTimeoutMs);
    let next: Fetching | undefined;
    while (!stopped && !crashed) {
      let current = next;
      next = undefined;
      if (!current || current.ep !== epoch) {
        const targets = fetchTargets(assignment, paused, pausedTopics, (k) => positions.get(k));
        if (!targets.length) {
          await idle(settings.maxWaitTimeMs);
          continue;
        }
        current = startFetch(targets);
      }
      const { fetched, errors } = await current.result;
      if (stopped || crashed) break;
      if (errors.length) logger?.debug?.({ ...where, err: describeError(errors[0]) }, 'kafka: fetch failed; trying again');
      if (fetched.length) failing.succeeded();
      else if (errors.length) {
        // Every partition failed. A failure that lasts (the broker gone for longer than the
        // session, access denied) stops the member as a crash (the supervisor reports it down
        // and re-creates it) instead of being retried unseen for ever.
        const failure = failing.failed(errors);
        if (failure) {
          logger?.warn({ ...where, err: describeError(failure), attempts: failing.attempts() }, 'kafka: fetching keeps failing; stopping the member');
          crash(failure);
          break;
        }
        await idle(failing.backoffMs());
      }
      if (current.ep !== epoch) continue;
      const ep = current.ep;
      if (!errors.length) next = prefetchAfter(fetched);
      try {
        await eachLimited(fetched, settings.partitionsConcurrently, (f) => deliver(f, ep));
      } catch (err) {
        crash(err);
      }
    }
  };

  const listen = (h: GroupHandlers): void => {
    handlers = h;
    holdJoinWhile(mod, consumer, () => revoking);
    consumer.on('consumer:group:rebalance', onRebalance);
    consumer.on('consumer:group:join', (payload) => {
      joinChain = joinChain.then(() => onJoin(payload)).catch((err: unknown) => crash(err));
    });
    consumer.on('consumer:heartbeat:error', ({ error }) => logger?.debug?.({ ...where, err: describeError(error) }, 'kafka: heartbeat failed'));
    // The library emits 'error' when rejoining the group failed for good.
    consumer.on('error', (err: unknown) => crash(err));
  };

  return {
    async start(h) {
      listen(h);
      consumer.topics.trackAll(...settings.topics);
      try {
        await consumer.metadata({ topics: [...settings.topics] });
      } catch (err) {
        throw normalize(err);
      }
      // As kafkajs' run(): resolve once joined (the group may still rebalance for later members).
      try {
        await consumer.joinGroup({});
      } catch (err) {
        await closeAll();
        await admin.release();
        throw normalize(err);
      }
      loop = run();
    },
    pause(topic, partitions) {
      if (!partitions) pausedTopics.add(topic);
      else for (const p of partitions) paused.add(key(topic, p));
    },
    resume(topic, partitions) {
      if (!partitions) {
        pausedTopics.delete(topic);
        for (const k of [...paused]) if (k.startsWith(`${topic}:`) && k.slice(topic.length + 1).match(/^\d+$/)) paused.delete(k);
      } else for (const p of partitions) paused.delete(key(topic, p));
      poke();
    },
    async commit(offsets) {
      const gen = pinned ?? (consumer.memberId ? { generationId: consumer.generationId, memberId: consumer.memberId } : undefined);
      if (!gen || stopped || crashed) throw new UnavailableError(`group ${settings.groupId}: not a member of the group, nothing can be committed`);
      try {
        await sendCommit(mod, consumer, commitPool, settings, offsets, gen);
      } catch (err) {
        if (hasProtocolError(err, 'OFFSET_METADATA_TOO_LARGE')) {
          throw Object.assign(new UnavailableError(`group ${settings.groupId}: the broker refused the commit metadata as too large`, { cause: normalize(err) }), {
            metadataTooLarge: true,
          });
        }
        throw normalize(err);
      }
    },
    committed: (topic) => groupCommitted(admin.admin, settings.groupId, topic),
    async stop() {
      stopped = true;
      epoch++;
      poke();
      try {
        await closeAll();
        // A batch still inside a handler sees isActive() false; wait for it, boundedly.
        await Promise.race([loop, new Promise((r) => setTimeout(r, settings.sessionTimeoutMs).unref())]);
      } finally {
        await admin.release();
      }
    },
  };
}
