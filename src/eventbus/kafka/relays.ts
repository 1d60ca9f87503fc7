/**
 * Which delay relays run (L3). A publisher picks `<queue>.delay.<tier>` from ITS ladder; a worker
 * configured with another ladder (a rolling config change, a rollback, another service) must
 * still move those messages on. So the relays of a queue cover every `<queue>.delay.<tier>`
 * topic that exists, not only this process's ladder: discovered when the queue is first
 * subscribed in this process and again every `discoveryIntervalMs` (this process's own ladder is
 * always relayed, so its own delayed publishes need no discovery). A foreign tier's relay releases on the
 * foreign tier's length (parsed from the topic name) and hops down this process's ladder, whose
 * topics exist, or forwards to the queue (with its due header when less than the smallest tier
 * is left).
 */
import { describeError, type UnavailableError } from '../../errors.js';
import { safeTimeout, type SafeTimer } from '../timers.js';
import type { KafkaBusLogger } from './options.js';
import type { DelayRelay } from './relay.js';
import { delayTiersAmong, delayTopicName, type DelayTier } from './tiers.js';
import type { TopicProvisioner } from './topics.js';

/** Settings of {@link createRelayManager}. */
export interface RelayManagerSettings {
  /** This process's ladder: its topics are created and relayed for every subscribed queue. */
  readonly tiers: readonly DelayTier[];
  readonly provisioner: TopicProvisioner;
  /** Names of all topics of the cluster. */
  readonly listTopics: () => Promise<string[]>;
  /** A relay (not started) of `tier` of `queue`. */
  readonly createRelay: (queue: string, tier: DelayTier) => DelayRelay;
  /** Re-discovery period, ms. */
  readonly discoveryIntervalMs: number;
  readonly logger: KafkaBusLogger | undefined;
}

/** Runs the relays of the queues subscribed in this process. */
export interface RelayManager {
  /** One more subscription of `queue` here: start its relays (first user) and wait for them. */
  acquire(queue: string): Promise<void>;
  /** One subscription of `queue` fewer: stop its relays after the last one. */
  release(queue: string): Promise<void>;
  /** Stop every relay. */
  close(): Promise<void>;
  /** Why a running relay's consumer is down (crashed, not assigned again yet), or undefined. */
  health(): UnavailableError | undefined;
}

interface Entry {
  users: number;
  readonly relays: Map<string, Promise<DelayRelay | undefined>>;
  ready: Promise<void>;
  timer: SafeTimer | undefined;
  closed: boolean;
}

/** Create the manager. */
export function createRelayManager(s: RelayManagerSettings): RelayManager {
  const entries = new Map<string, Entry>();
  const stopping = new Set<Promise<void>>();
  const running = new Set<DelayRelay>();

  /** Start the relay of one tier unless it runs; a failure is logged and retried by discovery. */
  const addRelay = (queue: string, e: Entry, tier: DelayTier, mustStart: boolean): Promise<DelayRelay | undefined> => {
    const topic = delayTopicName(queue, tier);
    const existing = e.relays.get(topic);
    if (existing) return existing;
    const relay = s.createRelay(queue, tier);
    const started = relay.start().then(
      async () => {
        if (e.closed) {
          await relay.stop().catch(() => undefined);
          return undefined;
        }
        running.add(relay);
        return relay;
      },
      async (err: unknown) => {
        if (e.relays.get(topic) === started) e.relays.delete(topic);
        await relay.stop().catch(() => undefined);
        if (mustStart) throw err;
        s.logger?.warn({ delayTopic: topic, err: describeError(err) }, 'kafka: cannot start a delay relay; retrying at the next discovery');
        return undefined;
      },
    );
    e.relays.set(topic, started);
    return started;
  };

  const discover = async (queue: string, e: Entry): Promise<void> => {
    let names: string[];
    try {
      names = await s.listTopics();
    } catch (err) {
      s.logger?.warn({ queue, err: describeError(err) }, 'kafka: delay topic discovery failed; retrying later');
      return;
    }
    if (e.closed) return;
    await Promise.all(delayTiersAmong(queue, names).map((tier) => addRelay(queue, e, tier, false)));
  };

  const scheduleDiscovery = (queue: string, e: Entry): void => {
    if (e.closed) return;
    e.timer = safeTimeout(
      async () => {
        await discover(queue, e);
        scheduleDiscovery(queue, e);
      },
      s.discoveryIntervalMs,
      (err) => s.logger?.error({ queue, err: describeError(err) }, 'kafka: delay topic discovery failed'),
    ).unref();
  };

  const stopEntry = (e: Entry): Promise<void> => {
    e.closed = true;
    e.timer?.clear();
    const p = (async () => {
      await e.ready.catch(() => undefined);
      const relays = await Promise.all([...e.relays.values()].map((r) => r.catch(() => undefined)));
      e.relays.clear();
      for (const r of relays) if (r) running.delete(r);
      await Promise.allSettled(relays.map((r) => r?.stop()));
    })();
    stopping.add(p);
    void p.finally(() => stopping.delete(p));
    return p;
  };

  return {
    health() {
      for (const r of running) {
        const down = r.health();
        if (down) return down;
      }
      return undefined;
    },

    async acquire(queue) {
      const found = entries.get(queue);
      if (found) {
        found.users++;
        return found.ready;
      }
      const e: Entry = { users: 1, relays: new Map(), ready: Promise.resolve(), timer: undefined, closed: false };
      entries.set(queue, e);
      e.ready = (async () => {
        await s.provisioner.ensure([{ name: queue }, ...s.tiers.map((t) => ({ name: delayTopicName(queue, t), delay: true }))]);
        await Promise.all(s.tiers.map((t) => addRelay(queue, e, t, true)));
        await discover(queue, e);
        scheduleDiscovery(queue, e);
      })();
      e.ready.catch(() => {
        if (entries.get(queue) === e) entries.delete(queue);
        void stopEntry(e);
      });
      return e.ready;
    },

    async release(queue) {
      const e = entries.get(queue);
      if (!e) return;
      e.users--;
      if (e.users > 0) return;
      entries.delete(queue);
      await stopEntry(e);
    },

    async close() {
      const all = [...entries.values()];
      entries.clear();
      await Promise.allSettled(all.map(stopEntry));
      await Promise.allSettled([...stopping]);
    },
  };
}
