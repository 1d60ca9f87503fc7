/**
 * Topic provisioning: queue, delay and DLQ topics are created on first use (or, with
 * `autoCreateTopics: false`, verified to exist). Topics known to exist are cached, and
 * concurrent requests for the same topic share one round trip.
 *
 * Retention (D6): created topics get `retention.ms` = {@link defaultRetentionMs} unless
 * `topics.configs` names one. The broker default (7 days) would delete queued and delayed jobs
 * of workers that are down for a week; 14 days (at least the longest tier + 7 days) is a
 * bounded disk cost with room for a long outage. Topics that already exist are not altered.
 */
import { NotFoundError, UnavailableError, ValidationError } from '../../errors.js';
import type { AdminPort, TopicSpec } from './port.js';

/** A legal Kafka topic name; consumer group ids here use the same alphabet. */
export const KAFKA_NAME_RE = /^[a-zA-Z0-9._-]{1,249}$/;
/** Room a queue name leaves for its longest delay-tier suffix (`.delay.<tier>`). */
const LONGEST_TIER_SUFFIX = '.delay.0000ms'.length + 8;

/** Throw a {@link ValidationError} unless `topic` is a queue name Kafka takes, delay topics included. */
export function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || !KAFKA_NAME_RE.test(topic) || topic === '.' || topic === '..') {
    throw new ValidationError('topic', `"${String(topic)}" is not a valid Kafka topic name ([a-zA-Z0-9._-], 1-249 chars)`);
  }
  if (topic.length + LONGEST_TIER_SUFFIX > 249) {
    throw new ValidationError('topic', `"${topic.slice(0, 40)}…" is too long to leave room for its delay topics`);
  }
}

/** Ensures topics exist. */
export interface TopicProvisioner {
  /** Resolve once every topic exists; `delay` topics use the delay partition count. */
  ensure(topics: readonly { readonly name: string; readonly delay?: boolean }[]): Promise<void>;
  /** Forget the cache (e.g. after topics were deleted by someone else). */
  forget(topic?: string): void;
}

/** Settings of the provisioner. */
export interface ProvisionerSettings {
  readonly autoCreate: boolean;
  readonly partitions: number;
  readonly delayPartitions: number;
  readonly replicationFactor: number;
  /** Configs of every created topic; a `retention.ms` here wins over {@link retentionMs}. */
  readonly configs: Readonly<Record<string, string>>;
  /** `retention.ms` of created topics (see {@link defaultRetentionMs}). */
  readonly retentionMs: number;
}

/** Fourteen days, ms. */
export const DEFAULT_RETENTION_MS = 14 * 24 * 3_600_000;

/** Default `retention.ms` of created topics: 14 days, and at least the longest tier + 7 days. */
export function defaultRetentionMs(longestTierMs: number): number {
  return Math.max(DEFAULT_RETENTION_MS, longestTierMs + 7 * 24 * 3_600_000);
}

/** Create a provisioner over a lazily connected admin client. */
export function createTopicProvisioner(admin: () => Promise<AdminPort>, s: ProvisionerSettings): TopicProvisioner {
  const configs: Readonly<Record<string, string>> = { 'retention.ms': String(s.retentionMs), ...s.configs };
  const known = new Set<string>();
  const pending = new Map<string, Promise<void>>();

  const run = async (topics: readonly { readonly name: string; readonly delay?: boolean }[]): Promise<void> => {
    let a: AdminPort;
    try {
      a = await admin();
    } catch (cause) {
      throw new UnavailableError(`kafka: cannot connect the admin client: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    let existing: Set<string>;
    try {
      existing = new Set(await a.listTopics());
    } catch (cause) {
      throw new UnavailableError('kafka: cannot list topics', { cause });
    }
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length && !s.autoCreate) {
      throw new NotFoundError(
        `kafka topic${missing.length > 1 ? 's' : ''} ${missing.map((t) => `"${t.name}"`).join(', ')} ` +
          `do${missing.length > 1 ? '' : 'es'} not exist and autoCreateTopics is false: create ${missing.length > 1 ? 'them' : 'it'} first`,
      );
    }
    if (missing.length) {
      const specs: TopicSpec[] = missing.map((t) => ({
        topic: t.name,
        partitions: t.delay ? s.delayPartitions : s.partitions,
        replicationFactor: s.replicationFactor,
        configs,
      }));
      try {
        await a.createTopics(specs);
      } catch (cause) {
        throw new UnavailableError(`kafka: cannot create topics ${missing.map((t) => t.name).join(', ')}`, { cause });
      }
    }
    for (const t of topics) known.add(t.name);
  };

  return {
    async ensure(topics) {
      const todo = topics.filter((t) => !known.has(t.name));
      if (!todo.length) return;
      const waits: Promise<void>[] = [];
      const fresh: { name: string; delay?: boolean }[] = [];
      for (const t of todo) {
        const p = pending.get(t.name);
        if (p) waits.push(p);
        else fresh.push(t);
      }
      if (fresh.length) {
        const p = run(fresh);
        for (const t of fresh) pending.set(t.name, p);
        void p.then(
          () => fresh.forEach((t) => pending.delete(t.name)),
          () => fresh.forEach((t) => pending.delete(t.name)),
        );
        waits.push(p);
      }
      await Promise.all(waits);
    },
    forget(topic) {
      if (topic === undefined) known.clear();
      else known.delete(topic);
    },
  };
}
