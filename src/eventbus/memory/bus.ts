import { ClosedError, InvalidArgumentError, PublishRejectedError } from '../../errors.js';
import type { BrowsableBus, BrowsedMessage, EventBus, Message, QueueStatsBus, Subscription } from '../types.js';
import { resolveSubscribeOptions, type ResolvedSubscribeOptions } from '../delivery.js';
import { messageBytes } from '../message-size.js';
import { createGroupDelivery, newGroup, REDELIVER_NOW, rejoin } from './group-delivery.js';
import type { Entry, Group, Member, Topic } from './model.js';
import { TimerQueue } from './timer-queue.js';

/** Options of {@link createMemoryEventBus}. */
export interface MemoryEventBusOptions {
  /**
   * Messages a topic keeps for browsing and for consumer groups created later, once at
   * least one group consumes it (a topic nobody consumes keeps everything). Default 100 000.
   */
  readonly retainPerTopic?: number;
  /**
   * Refuse messages larger than this many bytes (value + key + headers) with a
   * `PublishRejectedError`, as a broker's size limit does. Default: no limit.
   */
  readonly maxMessageBytes?: number;
}

/**
 * The in-memory bus: the embedded default and the bus for users' unit tests. It has the
 * semantics of the broker adapters: consumer groups (competing members, every group gets
 * every message, a new group starts from the oldest retained message), per-key ordering,
 * delayed delivery (never before `deliverAt`), redelivery of rejected or timed-out
 * deliveries, and a bound on in-flight deliveries per subscriber. Nothing survives the process.
 */
export type MemoryEventBus = EventBus & BrowsableBus & QueueStatsBus & {
  /** Messages waiting for their `deliverAt`, per topic. */
  delayedCount(topic: string): number;
  /** Messages of `topic` not yet settled by `group` (ready, in flight or awaiting redelivery). */
  pendingCount(topic: string, group: string): number;
};

/** Create an in-memory {@link EventBus}. */
export function createMemoryEventBus(options: MemoryEventBusOptions = {}): MemoryEventBus {
  const retain = options.retainPerTopic ?? 100_000;
  const maxMessageBytes = options.maxMessageBytes;
  const topics = new Map<string, Topic>();
  const timers = new TimerQueue();
  const delayed = new Map<string, number>();
  let seq = 0;
  let closed = false;
  const { schedulePump, settle, stopAckSweep } = createGroupDelivery({ timers, isClosed: () => closed });

  function assertOpen(): void {
    if (closed) throw new ClosedError('memory event bus is closed');
  }

  function topicOf(name: string): Topic {
    if (typeof name !== 'string' || name.trim() === '') {
      throw new InvalidArgumentError(`topic name must be a non-empty string, got ${JSON.stringify(name)}`);
    }
    let t = topics.get(name);
    if (!t) {
      t = { name, log: [], groups: new Map() };
      topics.set(name, t);
    }
    return t;
  }

  function copyMessage(topic: string, m: Message): Message {
    if (!(m.value instanceof Uint8Array)) throw new InvalidArgumentError('message value must be a Uint8Array');
    if (maxMessageBytes !== undefined && messageBytes(m) > maxMessageBytes) {
      throw new PublishRejectedError(topic, `message of ${messageBytes(m)} bytes is larger than maxMessageBytes ${maxMessageBytes}`);
    }
    return { ...(m.key !== undefined && { key: m.key }), value: m.value, headers: { ...m.headers } };
  }

  function append(topic: Topic, message: Message): void {
    const entry: Entry = { seq: ++seq, message, publishedAt: new Date() };
    topic.log.push(entry);
    // Trimmed in chunks: one splice per many appends, not one per append.
    if (topic.groups.size > 0 && topic.log.length > retain + Math.max(1_000, retain >> 4)) {
      topic.log.splice(0, topic.log.length - retain);
    }
    for (const g of topic.groups.values()) {
      if (g.absentSince !== undefined) continue;
      g.ready.push({ seq: entry.seq, entry, deliveries: 0 });
      schedulePump(g);
    }
  }

  /** Store a message (already copied and checked), or hold it until `deliverAt`. */
  function store(topicName: string, copy: Message, deliverAt: Date | undefined): void {
    const topic = topicOf(topicName);
    const due = deliverAt?.getTime();
    if (due !== undefined && due > Date.now()) {
      delayed.set(topicName, (delayed.get(topicName) ?? 0) + 1);
      timers.add(due, () => {
        delayed.set(topicName, (delayed.get(topicName) ?? 1) - 1);
        append(topic, copy);
      });
    } else {
      append(topic, copy);
    }
  }

  function groupOf(topic: Topic, opts: ResolvedSubscribeOptions): Group {
    const g = topic.groups.get(opts.group);
    if (g) {
      rejoin(g);
      return g;
    }
    const created = newGroup(topic, opts);
    topic.groups.set(opts.group, created);
    return created;
  }

  const bus: MemoryEventBus = {
    ...(maxMessageBytes !== undefined && { maxMessageBytes }),

    async publish(topic, message, opts) {
      assertOpen();
      store(topic, copyMessage(topic, message), opts?.deliverAt);
    },

    async publishBatch(topic, messages, opts) {
      assertOpen();
      // All or nothing, like a broker batch: check every message before storing any.
      const copies = messages.map((m) => copyMessage(topic, m));
      for (const m of copies) store(topic, m, opts?.deliverAt);
    },

    async subscribe(topicName, handler, opts) {
      assertOpen();
      const o = resolveSubscribeOptions(opts);
      const topic = topicOf(topicName);
      const g = groupOf(topic, o);
      const member: Member = { handler, maxInFlight: o.maxInFlight, inFlight: 0, closed: false };
      g.members.push(member);
      schedulePump(g);
      const sub: Subscription = {
        topic: topicName,
        group: o.group,
        async close() {
          if (member.closed) return;
          member.closed = true;
          g.members.splice(g.members.indexOf(member), 1);
          // Release what this member holds so the group's other members (or a later one) get it.
          for (const f of [...g.inFlight]) if (f.member === member) settle(g, f, REDELIVER_NOW);
          if (g.members.length === 0) g.absentSince = seq;
        },
      };
      return sub;
    },

    async healthCheck() {
      assertOpen();
    },

    async close() {
      if (closed) return;
      closed = true;
      timers.clear();
      for (const t of topics.values()) {
        for (const g of t.groups.values()) {
          for (const f of g.inFlight) f.done = true;
          g.inFlight.clear();
          stopAckSweep(g);
          for (const m of g.members) m.closed = true;
        }
      }
    },

    async browse(topicName, limit) {
      assertOpen();
      const t = topics.get(topicName);
      if (!t) return [];
      const out: BrowsedMessage[] = [];
      for (let i = t.log.length - 1; i >= 0 && out.length < limit; i--) {
        const e = t.log[i]!;
        out.push({ ...e.message, position: `${topicName}#${e.seq}`, publishedAt: e.publishedAt });
      }
      return out;
    },

    async remove(topicName, select) {
      assertOpen();
      const t = topics.get(topicName);
      if (!t) return 0;
      const removed = new Set<number>();
      for (let i = t.log.length - 1; i >= 0; i--) {
        const e = t.log[i]!;
        if (select({ ...e.message, position: `${topicName}#${e.seq}`, publishedAt: e.publishedAt })) {
          removed.add(e.seq);
          t.log.splice(i, 1);
        }
      }
      for (const g of t.groups.values()) {
        g.ready.removeWhere((p) => removed.has(p.entry.seq));
      }
      return removed.size;
    },

    delayedCount(topic) {
      return delayed.get(topic) ?? 0;
    },

    pendingCount(topicName, group) {
      const g = topics.get(topicName)?.groups.get(group);
      if (!g) return topics.get(topicName)?.log.length ?? 0;
      const since = g.absentSince;
      const unqueued = since === undefined ? 0 : g.topic.log.filter((e) => e.seq > since).length;
      return g.ready.size + g.inFlight.size + g.waiting + unqueued;
    },

    async topicStats(topicName, group) {
      assertOpen();
      const t = topics.get(topicName);
      const g = t?.groups.get(group);
      const inFlight = g?.inFlight.size ?? 0;
      // The bus's own counters: what the group still has to take is everything not in flight.
      const waiting = bus.pendingCount(topicName, group) - inFlight;
      return { topic: topicName, group, waiting, inFlight, delayed: bus.delayedCount(topicName), retained: t?.log.length ?? 0 };
    },
  };

  return bus;
}
