/**
 * Dropping settled jobs from `acked` queue streams: everything at or below the lowest ack
 * floor of the stream's groups has been acked by every group.
 *
 * The floor is the minimum over the groups of the {@link GroupRegistry} (a registered group
 * whose durable is missing holds the floor at its recorded value; see registry.ts, finding L2)
 * and over any other explicit-ack durable on the stream (created by another tool or an older
 * jobbus: counted, never purged past). No registry answer, no cleanup.
 *
 * How: `purge` (one `STREAM.PURGE {seq: floor + 1}`) on servers that keep ack-pending state
 * across a partial purge, else `delete` (`STREAM.MSG.DELETE` per sequence, pipelined, at most
 * `maxDeletesPerRun` per run): a partial purge on nats-server < 2.9.15 loses the ack-pending
 * state above the purge point (finding N1; see server-version.ts).
 *
 * A stream marked retained since the bus started cleaning it (retained.ts; maybe by another
 * process) is left alone from then on.
 */
import type { Logger } from 'pino';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { GroupRegistry } from './registry.js';
import type { CleanupMethod } from './server-version.js';
import type { NatsConnection } from '@nats-io/nats-core';
import { deleteRange } from './msg-deleter.js';
import type { JetStreamModule } from './modules.js';
import type { NameMapper } from './names.js';
import type { Provisioner, StreamRef } from './provision.js';
import { isRetainedDescription } from './retained.js';
import { unavailable } from './unavailable.js';

/** What {@link cleanStream} needs. */
export interface JanitorDeps {
  readonly jsm: JetStreamManager;
  readonly registry: GroupRegistry;
  readonly method: CleanupMethod;
  readonly logger: Logger;
  /** `AckPolicy.Explicit` of the jetstream module (loaded lazily by the bus). */
  readonly explicitAck: string;
  /** Most per-message deletes of one stream in one run (method `delete`). */
  readonly maxDeletesPerRun: number;
  /** The connection and an inbox of its own, for the pipelined deletes. */
  readonly nc: NatsConnection;
  readonly inbox: string;
  /** Longest wait for an answer to a delete, ms. */
  readonly timeoutMs: number;
}

/** Result of one run over one stream. */
export interface CleanResult {
  /** Messages dropped in this run. */
  readonly dropped: number;
  /** Highest sequence dropped so far (the next run starts above it). */
  readonly done: number;
  /** The stream was marked retained (retained.ts): never clean it again. */
  readonly retained?: boolean;
}

/** Parallel deletes in flight at once. */
const DELETE_WINDOW = 256;

/** The lowest floor over registered groups and live durables; undefined when the stream has no group. */
export async function floorOf(deps: JanitorDeps, stream: string): Promise<number | undefined> {
  const groups = await deps.registry.groupsOf(stream);
  const live = new Map<string, number>();
  for await (const ci of deps.jsm.consumers.list(stream)) {
    if (ci.config.ack_policy !== deps.explicitAck || !ci.config.durable_name) continue;
    live.set(ci.config.durable_name, ci.ack_floor.stream_seq);
  }
  let floor = Infinity;
  const records: Promise<void>[] = [];
  for (const [durable, rec] of groups) {
    const f = live.get(durable);
    if (f === undefined) {
      floor = Math.min(floor, rec.floor); // durable missing: hold at its last recorded floor
      continue;
    }
    floor = Math.min(floor, f);
    if (f > rec.floor) {
      records.push(
        deps.registry.recordFloor(stream, durable, rec, f).catch((err: unknown) => deps.logger.debug({ err, stream, durable }, 'floor not recorded; next run')),
      );
    }
  }
  for (const [durable, f] of live) if (!groups.has(durable)) floor = Math.min(floor, f);
  // Recorded before anything is dropped: a durable deleted right after this run is re-created
  // no later than the floor that was dropped up to.
  await Promise.all(records);
  return Number.isFinite(floor) ? floor : undefined;
}

/** Drop what every group of `stream` has acked, above `done` (see the module comment). */
export async function cleanStream(deps: JanitorDeps, stream: string, done: number): Promise<CleanResult> {
  const floor = await floorOf(deps, stream);
  if (floor === undefined || floor <= done) return { dropped: 0, done };
  // Read after the floor: a stream marked retained later holds only later messages above it.
  const info = await deps.jsm.streams.info(stream);
  if (isRetainedDescription(info.config.description)) return { dropped: 0, done, retained: true };
  if (deps.method === 'purge') {
    const r = await deps.jsm.streams.purge(stream, { seq: floor + 1 });
    return { dropped: r.purged, done: floor };
  }
  const from = Math.max(info.state.first_seq, done + 1);
  const to = Math.min(floor, from + deps.maxDeletesPerRun - 1);
  // Already gone (a gap, another janitor) counts as done; the next run starts above what was
  // answered without a hole, so a delete that failed is tried again.
  const r = await deleteRange(deps.nc, deps.inbox, stream, from, to, DELETE_WINDOW, deps.timeoutMs);
  return { dropped: r.deleted, done: Math.max(done, r.through) };
}

/** The janitor of one bus. */
export interface Janitor {
  /** A subscriber of `ref` started: clean its stream from now on if it has `acked` retention. */
  consumed(ref: StreamRef): void;
  /** One run over every tracked stream now; returns messages dropped. */
  cleanup(): Promise<number>;
  /** Retire a group: delete its durable and registration (see `NatsEventBus.removeGroup`). */
  removeGroup(topic: string, group: string): Promise<boolean>;
  /** No more runs. */
  stop(): void;
}

/** What {@link startJanitor} needs besides {@link JanitorDeps}. */
export interface JanitorOptions extends JanitorDeps {
  readonly jsmod: JetStreamModule;
  readonly names: NameMapper;
  readonly prov: Provisioner;
  /** Between runs, ms. */
  readonly intervalMs: number;
  isClosed(): boolean;
}

/**
 * Start the janitor: a run every `intervalMs` over the streams this bus consumes.
 *
 *   untracked --consumed(): acked retention, not retained--> tracked
 *   tracked --run: the stream is gone, or was marked retained since--> untracked
 */
export function startJanitor(o: JanitorOptions): Janitor {
  const { jsmod } = o;
  /** Tracked streams -> highest sequence dropped so far. */
  const cleanable = new Map<string, number>();
  const apiCode = (err: unknown): number | undefined => (err instanceof jsmod.JetStreamApiError ? err.code : undefined);

  async function cleanup(): Promise<number> {
    let dropped = 0;
    for (const [stream, done] of cleanable) {
      if (o.isClosed()) break;
      try {
        const r = await cleanStream(o, stream, done);
        dropped += r.dropped;
        if (r.retained) cleanable.delete(stream); // marked retained since (maybe by another process)
        else cleanable.set(stream, r.done);
      } catch (err) {
        if (apiCode(err) === jsmod.JetStreamApiCodes.StreamNotFound) cleanable.delete(stream);
        else o.logger.debug({ err, stream }, 'cleanup of stream failed; next run');
      }
    }
    return dropped;
  }

  const timer = setInterval(() => {
    void cleanup().catch((err: unknown) => o.logger.debug({ err }, 'stream cleanup failed; retrying later'));
  }, o.intervalMs);
  timer.unref();

  return {
    consumed(ref) {
      if (!ref.retained && !ref.workqueue && !cleanable.has(ref.name)) cleanable.set(ref.name, 0);
    },
    cleanup,
    async removeGroup(topic, group) {
      const stream = o.names.streamOf(topic);
      const durable = o.names.durableOf(group);
      const gone = (err: unknown): boolean =>
        apiCode(err) === jsmod.JetStreamApiCodes.ConsumerNotFound || apiCode(err) === jsmod.JetStreamApiCodes.StreamNotFound;
      try {
        const registered = (await o.registry.groupsOf(stream)).has(durable);
        const deleted = await o.jsm.consumers.delete(stream, durable).catch((err: unknown) => {
          if (gone(err)) return false;
          throw err;
        });
        if (registered) await o.registry.remove(stream, durable);
        o.prov.forgetStream(topic);
        return registered || deleted;
      } catch (err) {
        throw unavailable(`cannot remove group "${group}" of queue "${topic}"`, err);
      }
    },
    stop: () => clearInterval(timer),
  };
}
