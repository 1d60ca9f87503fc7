/**
 * How a consumer group of the memory bus hands out its messages: the pump (ready message ->
 * member with a free slot), one delivery's settle, and the ack-timeout sweep.
 *
 * A message of a group moves: READY (in `g.ready`) --pump--> IN FLIGHT (in `g.inFlight`,
 * its key busy) --ack / terminate--> gone (key released);
 * IN FLIGHT --redeliver (rejected, timed out, member closed)--> WAITING (`g.waiting`, key still
 * busy) --delay over--> READY in front of its key (key released).
 * Once the bus is closed nothing moves: pumps and requeues stop, late settles are ignored.
 */
import { callHandler } from '../call-handler.js';
import { ACK, settleOfRejection, type ResolvedSubscribeOptions, type Settle } from '../delivery.js';
import { laneOf } from '../lanes.js';
import type { Delivery } from '../types.js';
import type { Group, InFlight, Member, Pending, Topic } from './model.js';
import { ReadyQueue } from './ready-queue.js';
import type { TimerQueue } from './timer-queue.js';

/** Released by a closing member or presumed dead by the ack sweep: hand it out again at once. */
export const REDELIVER_NOW: Settle = Object.freeze({ kind: 'redeliver', delayMs: 0 });

/** What group delivery needs from its bus. */
export interface GroupDeliveryDeps {
  /** The bus's timers (redelivery delays); cleared when the bus closes. */
  readonly timers: TimerQueue;
  /** True once the bus is closed. */
  readonly isClosed: () => boolean;
}

/** The delivery engine of the memory bus's groups. */
export interface GroupDelivery {
  /** Hand out what `g` can, once, in a microtask (coalesces the many triggers of one tick). */
  schedulePump(g: Group): void;
  /** Finish a delivery: ack and terminate drop it (no DLQ of its own here), redeliver hands it out again later. */
  settle(g: Group, flight: InFlight, outcome: Settle): void;
  /** Stop the group's ack-timeout sweep (the bus closes). */
  stopAckSweep(g: Group): void;
}

/** A new group of `topic`, ready queue filled from the retained log (a new group starts at the oldest). */
export function newGroup(topic: Topic, opts: ResolvedSubscribeOptions): Group {
  const ordering = opts.ordering;
  // The lane rule every bus shares (lanes.ts); a memory topic is one partition.
  const ready = new ReadyQueue<Pending>((p) => laneOf(ordering, 0, p.entry.message.key ?? undefined));
  for (const entry of topic.log) ready.push({ seq: entry.seq, entry, deliveries: 0 });
  return {
    name: opts.group,
    topic,
    ordering,
    ackTimeoutMs: opts.ackTimeoutMs,
    redeliveryDelayMs: opts.redeliveryDelayMs,
    ready,
    inFlight: new Set(),
    members: [],
    rr: 0,
    pumpScheduled: false,
    waiting: 0,
    absentSince: undefined,
    ackSweep: undefined,
  };
}

/** A group that had no member gets one again: queue what was appended meanwhile, as a Kafka group resumes from its offset. */
export function rejoin(g: Group): void {
  if (g.absentSince === undefined) return;
  const since = g.absentSince;
  g.absentSince = undefined;
  for (const entry of g.topic.log) if (entry.seq > since) g.ready.push({ seq: entry.seq, entry, deliveries: 0 });
}

/** Round-robin over the members with a free slot. */
function nextMember(g: Group): Member | undefined {
  const n = g.members.length;
  for (let i = 0; i < n; i++) {
    const m = g.members[(g.rr + i) % n]!;
    if (!m.closed && m.inFlight < m.maxInFlight) {
      g.rr = (g.rr + i + 1) % n;
      return m;
    }
  }
  return undefined;
}

/** Create the delivery engine. */
export function createGroupDelivery({ timers, isClosed }: GroupDeliveryDeps): GroupDelivery {
  function schedulePump(g: Group): void {
    if (g.pumpScheduled || isClosed()) return;
    g.pumpScheduled = true;
    queueMicrotask(() => {
      g.pumpScheduled = false;
      pump(g);
    });
  }

  function pump(g: Group): void {
    if (isClosed()) return;
    while (g.ready.size > 0) {
      const member = nextMember(g);
      if (!member) return;
      const next = g.ready.take();
      if (!next) return; // every waiting key is busy
      deliver(g, member, next.item, next.key);
    }
  }

  function deliver(g: Group, member: Member, p: Pending, key: string | undefined): void {
    const flight: InFlight = { entry: p.entry, key, member, deliveryCount: p.deliveries + 1, deadline: Date.now() + g.ackTimeoutMs, done: false };
    member.inFlight++;
    g.inFlight.add(flight);
    ensureAckSweep(g);
    const delivery: Delivery = {
      topic: g.topic.name,
      message: p.entry.message,
      deliveryCount: flight.deliveryCount,
      position: `${g.topic.name}#${p.entry.seq}`,
      working: () => {
        if (!flight.done) flight.deadline = Date.now() + g.ackTimeoutMs;
      },
    };
    // settleOf's mapping without its extra promise hop: this is the memory bus's hot path.
    callHandler(member.handler, delivery).then(
      () => settle(g, flight, ACK),
      (err: unknown) => settle(g, flight, settleOfRejection(err, g.redeliveryDelayMs)),
    );
  }

  /**
   * One interval per group finds deliveries not settled (nor kept alive by `working()`) within
   * the ack timeout, instead of a timer entry per delivery: a settled delivery leaves the
   * group's in-flight set at once and nothing else references it (R1: per-delivery entries kept
   * every message alive for a whole ack timeout after its settle). Precision: a tenth of the
   * ack timeout, at least 5 ms.
   */
  function ensureAckSweep(g: Group): void {
    if (g.ackSweep) return;
    const every = Math.max(5, Math.min(1_000, Math.floor(g.ackTimeoutMs / 10)));
    g.ackSweep = setInterval(() => {
      const now = Date.now();
      for (const f of [...g.inFlight]) if (now >= f.deadline) settle(g, f, REDELIVER_NOW); // presumed dead; a late settle is ignored
      if (g.inFlight.size === 0 || isClosed()) stopAckSweep(g);
    }, every);
    g.ackSweep.unref();
  }

  function stopAckSweep(g: Group): void {
    if (g.ackSweep) clearInterval(g.ackSweep);
    g.ackSweep = undefined;
  }

  function settle(g: Group, flight: InFlight, outcome: Settle): void {
    if (flight.done) return;
    flight.done = true;
    g.inFlight.delete(flight);
    flight.member.inFlight--;
    if (outcome.kind !== 'redeliver' || isClosed() || !g.topic.groups.has(g.name)) {
      g.ready.release(flight.key);
      schedulePump(g);
      return;
    }
    const again: Pending = { seq: flight.entry.seq, entry: flight.entry, deliveries: flight.deliveryCount };
    const requeue = (): void => {
      if (isClosed()) return;
      // In front: it is older than anything still ready, and ordering demands it goes first.
      g.ready.pushFront(again);
      g.ready.release(flight.key);
      schedulePump(g);
    };
    if (outcome.delayMs <= 0) {
      requeue();
    } else {
      g.waiting++;
      timers.add(Date.now() + outcome.delayMs, () => {
        g.waiting--;
        requeue();
      });
    }
    schedulePump(g);
  }

  return { schedulePump, settle, stopAckSweep };
}
