/**
 * Where a chaos scenario runs: a bus the scenario's own process uses to enqueue and to read the
 * DLQ, and the configuration its worker processes build the same bus from.
 */
import { createBusDLQStore, createEventBusBridge, HEADERS, type EventBusBridge } from '../../../src/advanced.js';
import { hasTopicStats, type BrowsableBus, type EventBus } from '../../../src/eventbus/types.js';
import { DEFAULTS } from '../../../src/jobs/config.js';

type Bus = EventBus & BrowsableBus;
import { uniqueName } from '../../setup/env.js';
import { deleteStreams } from '../../nats/helpers.js';
import type { WorkerBusConfig } from './worker-config.js';

/** A bus to run one scenario on. */
export interface ChaosTarget {
  readonly kind: 'kafka' | 'nats';
  /** A fresh queue name for one scenario run. */
  newQueue(prefix: string): string;
  /** What the worker processes connect with (maybe through a proxy). */
  workerBus(overrides?: Partial<WorkerBusConfig>): WorkerBusConfig;
  /** A bridge over a new bus, for the scenario's producer (`direct`: not through the proxy). */
  producer(direct?: boolean): Promise<EventBusBridge>;
  /** Ids of the jobs in `queue`'s DLQ. */
  deadLetterIds(queue: string): Promise<Set<string>>;
  /**
   * Where the broker has each of `ids` (lost jobs, for the failure message): its position in the
   * queue's topic or "not in the topic" (never stored), and how many messages the workers' group
   * has yet to take ("waiting 0" with the job in the topic: consumed past it).
   */
  whereabouts(queue: string, ids: readonly string[]): Promise<Map<string, string>>;
  /** Close what this target opened. */
  close(): Promise<void>;
}

/** Options of a Kafka target. */
export interface KafkaTargetOptions {
  /** The address every client uses (a proxy's, if there is one). */
  readonly brokers: readonly string[];
  /** Bypassing the proxy, for the producer when only the workers' connections are faulted. */
  readonly directBrokers?: readonly string[];
  readonly partitions?: number;
  readonly sessionTimeoutMs?: number;
}

/** A Kafka target. */
export async function kafkaTarget(o: KafkaTargetOptions): Promise<ChaosTarget> {
  const { createKafkaEventBus } = await import('../../../src/eventbus/kafka/index.js');
  const { testDriver } = await import('../../kafka/driver.js');
  const opened: EventBusBridge[] = [];
  const partitions = o.partitions ?? 6;
  const makeBus = (brokers: readonly string[]): Promise<Bus> =>
    createKafkaEventBus({ driver: testDriver(), brokers, clientId: 'jobbus-chaos-producer', topics: { partitions } });
  let reader: Bus | undefined;
  return {
    kind: 'kafka',
    newQueue: (prefix) => uniqueName(`chaos-${prefix}`),
    workerBus: (overrides) => ({
      kind: 'kafka',
      brokers: o.brokers,
      partitions,
      sessionTimeoutMs: o.sessionTimeoutMs ?? 6_000,
      ...(overrides as Partial<Extract<WorkerBusConfig, { kind: 'kafka' }>>),
    }),
    async producer(direct = false) {
      const bridge = createEventBusBridge(await makeBus(direct && o.directBrokers ? o.directBrokers : o.brokers));
      opened.push(bridge);
      return bridge;
    },
    async deadLetterIds(queue) {
      reader ??= await makeBus(o.directBrokers ?? o.brokers);
      return idsOf(reader, queue);
    },
    async whereabouts(queue, ids) {
      reader ??= await makeBus(o.directBrokers ?? o.brokers);
      return whereaboutsIn(reader, queue, ids);
    },
    async close() {
      await Promise.allSettled([...opened.map((b) => b.close()), reader?.close()]);
    },
  };
}

/** Options of a NATS target. */
export interface NatsTargetOptions {
  readonly servers: string;
  readonly directServers?: string;
  readonly relayAckWaitMs?: number;
}

/** A NATS target; every run gets its own subject and stream prefix. */
export async function natsTarget(o: NatsTargetOptions): Promise<ChaosTarget> {
  const { createNatsEventBus } = await import('../../../src/eventbus/nats/index.js');
  const token = uniqueName('chaos').replace(/-/g, '_');
  const subjectPrefix = `c_${token}`;
  const streamPrefix = `C_${token}`.toUpperCase();
  const opened: EventBusBridge[] = [];
  const makeBus = (servers: string): Promise<Bus> => createNatsEventBus({ servers, subjectPrefix, streamPrefix });
  let reader: Bus | undefined;
  return {
    kind: 'nats',
    newQueue: (prefix) => uniqueName(prefix).replace(/-/g, '_'),
    workerBus: (overrides) => ({
      kind: 'nats',
      servers: o.servers,
      subjectPrefix,
      streamPrefix,
      relayAckWaitMs: o.relayAckWaitMs ?? 3_000,
      ...(overrides as Partial<Extract<WorkerBusConfig, { kind: 'nats' }>>),
    }),
    async producer(direct = false) {
      const bridge = createEventBusBridge(await makeBus(direct && o.directServers ? o.directServers : o.servers));
      opened.push(bridge);
      return bridge;
    },
    async deadLetterIds(queue) {
      reader ??= await makeBus(o.directServers ?? o.servers);
      return idsOf(reader, queue);
    },
    async whereabouts(queue, ids) {
      reader ??= await makeBus(o.directServers ?? o.servers);
      return whereaboutsIn(reader, queue, ids);
    },
    async close() {
      await Promise.allSettled([...opened.map((b) => b.close()), reader?.close()]);
      await deleteStreams(o.directServers ?? o.servers, streamPrefix).catch(() => undefined);
    },
  };
}

async function whereaboutsIn(bus: Bus, queue: string, ids: readonly string[]): Promise<Map<string, string>> {
  const [messages, stats] = await Promise.all([
    bus.browse(queue, 1_000_000),
    hasTopicStats(bus) ? bus.topicStats(queue, DEFAULTS.group).then((s) => `group ${DEFAULTS.group} waiting ${s.waiting}`, (err: unknown) => String(err)) : 'no stats',
  ]);
  const at = new Map<string, string>();
  for (const m of messages) {
    const id = m.headers?.[HEADERS.id];
    if (id !== undefined && ids.includes(id)) at.set(id, `${at.has(id) ? `${at.get(id)!}, ` : ''}${m.position}`);
  }
  return new Map(ids.map((id) => [id, `${at.has(id) ? `in the topic at ${at.get(id)!}` : 'not in the topic'}; ${stats}`]));
}

async function idsOf(bus: Bus, queue: string): Promise<Set<string>> {
  const entries = await createBusDLQStore(bus).listDLQ(queue, 1_000_000);
  return new Set(entries.map((e) => e.job.id));
}
