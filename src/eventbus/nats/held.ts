/**
 * The messages one subscriber holds until they are settled: when each may run, its ordering
 * lane, its keep-alive, and how its handler's outcome goes back to the server.
 *
 *   received --ready later than the hold horizon--> naked back with the delay (no slot taken)
 *   received --ready within it--> timed (a local timer) --ready--> admitted
 *   admitted --lane free--> running;  admitted --lane busy--> waiting --lane released--> running
 *   running --handler settled--> done (ack, nak with delay, or +TERM)
 *   timed | waiting | running --releaseAll()--> done (naked back to the group)
 *
 * Every state but `done` takes one in-flight slot. Only this subscriber knows its timed and
 * waiting messages, so it keeps them alive (`+WPI`); running ones too while the consumer's ack
 * wait is shorter than this subscriber's lease (finding D5).
 */
import type { Msg } from '@nats-io/nats-core';
import type { Delivery, Message } from '../types.js';
import { settleOf, type Settle } from '../delivery.js';
import { createLanes, laneOf } from '../lanes.js';
import { readDelivered } from './wire.js';
import { NAK, nanos, parseAckSubject, te, TERM, WPI } from './protocol.js';
import type { Acker } from './acker.js';
import { EARLY_HOLD_MS, RELAY_HOLD_MS } from './delay-tiers.js';
import type { SubscriberConfig } from './subscriber-config.js';

/** A message held by this subscriber until it is settled. */
interface Held {
  readonly msg: Msg;
  readonly message: Message;
  /** Ordering lane (see lanes.ts); a stream is one partition. */
  readonly lane: string | undefined;
  readonly seq: number;
  /** `<stream>#<seq>`, for the delivery and the logs. */
  readonly position: string;
  readonly deliveryCount: number;
  /** When the handler last showed life (delivery or `working()`), epoch ms. */
  lastSign: number;
  /** Timed (delay relays): the timer that admits it when it is ready. */
  readyTimer?: NodeJS.Timeout;
  /** True while it waits behind the running delivery of its lane. */
  waiting: boolean;
  /** True once acked, naked or released. */
  done: boolean;
}

/** See the module comment. */
export interface HeldMessages {
  /** Messages held and not settled (in-flight slots taken). */
  count(): number;
  /**
   * Take a delivered message: hold it (undefined), or nak it back when it is not ready for
   * long and return when it comes back (epoch ms).
   */
  receive(msg: Msg): number | undefined;
  /** Send the keep-alives due now (from the subscriber's ticker). */
  keepAlive(): void;
  /** Release everything held to the group, redelivered after `delayMs`; nothing runs any more. */
  releaseAll(delayMs: number): void;
}

/** What {@link createHeldMessages} needs. */
export interface HeldDeps {
  readonly cfg: SubscriberConfig;
  readonly acker: Acker;
  /** The group consumer's current ack wait, ms. */
  consumerAckWaitMs(): number;
  /** A message was settled: its slot is free. */
  onSettled(): void;
}

/** Create the held-message bookkeeping of one subscriber. */
export function createHeldMessages(d: HeldDeps): HeldMessages {
  const { cfg, acker } = d;
  const held = new Set<Held>();
  let lanes = createLanes<Held>();

  /** How long before it is ready a relay holds a message (a slot each, so short; within the ack wait). */
  function holdHorizonMs(): number {
    return Math.min(RELAY_HOLD_MS, d.consumerAckWaitMs() / 2);
  }

  /** Admit `h` at `readyAt` (epoch ms), never before: a timer can fire a millisecond early. */
  function admitAt(h: Held, readyAt: number): void {
    const wait = readyAt - Date.now();
    if (wait <= 0) {
      h.readyTimer = undefined;
      if (lanes.admit(h.lane, h)) run(h);
      else h.waiting = true;
      return;
    }
    h.readyTimer = setTimeout(() => {
      if (!h.done) admitAt(h, readyAt);
    }, wait);
  }

  function run(h: Held): void {
    h.waiting = false;
    const delivery: Delivery = {
      topic: cfg.topic,
      message: h.message,
      deliveryCount: h.deliveryCount,
      position: h.position,
      working: () => {
        if (h.done) return;
        h.lastSign = Date.now();
        h.msg.respond(WPI);
      },
    };
    void settleOf(cfg.handler, delivery, cfg.redeliveryDelayMs).then((s) => settle(h, s));
  }

  /** Ack, terminate (`+TERM`: settled elsewhere, never again) or nak with a delay, then start the next of the lane. */
  function settle(h: Held, s: Settle): void {
    if (h.done) return;
    h.done = true;
    held.delete(h);
    if (s.kind === 'terminate') h.msg.respond(TERM);
    else if (s.kind === 'ack') acker.ack(h.msg, h.position);
    else if (s.delayMs > 0) h.msg.respond(te.encode(`-NAK {"delay":${nanos(s.delayMs)}}`));
    else h.msg.respond(NAK);
    const next = lanes.release(h.lane);
    if (next) run(next);
    d.onSettled();
  }

  return {
    count: () => held.size,
    receive(msg) {
      const { message, dueAt } = readDelivered(msg, cfg.keepDueAt);
      const { deliveryCount, seq, storedAt } = parseAckSubject(msg.reply);
      const now = Date.now();
      const readyAt = cfg.readyAtOf ? cfg.readyAtOf(storedAt || now, dueAt) : (dueAt ?? now);
      // Held here until ready when that is near (a local timer is precise), else left to the server.
      const horizon = cfg.readyAtOf ? holdHorizonMs() : EARLY_HOLD_MS;
      if (readyAt - now > horizon) {
        // Delayed on 2.9: wait in the server's redelivery timer, never in this process. A relay
        // gets it back with half a horizon to spare, to hold it for the rest.
        const back = cfg.readyAtOf ? readyAt - now - horizon / 2 : readyAt - now;
        msg.respond(te.encode(`-NAK {"delay":${nanos(Math.ceil(back))}}`));
        return now + back;
      }
      const h: Held = {
        msg,
        message,
        lane: laneOf(cfg.ordering, 0, message.key),
        seq,
        position: `${cfg.stream}#${seq}`,
        deliveryCount,
        lastSign: now,
        waiting: false,
        done: false,
      };
      held.add(h);
      admitAt(h, readyAt);
      return undefined;
    },
    keepAlive() {
      const now = Date.now();
      const ackWaitMs = d.consumerAckWaitMs();
      for (const h of held) {
        if (h.done) continue;
        if (h.waiting) h.msg.respond(WPI);
        // Timed (delay relays): kept alive once per third of the ack wait.
        if (h.readyTimer && now - h.lastSign >= ackWaitMs / 3) {
          h.lastSign = now;
          h.msg.respond(WPI);
        }
      }
      if (ackWaitMs < cfg.ackTimeoutMs) {
        for (const h of held) if (!h.done && now - h.lastSign < cfg.ackTimeoutMs) h.msg.respond(WPI);
      }
    },
    releaseAll(delayMs) {
      const release = te.encode(`-NAK {"delay":${nanos(delayMs)}}`);
      for (const h of held) {
        h.done = true;
        if (h.readyTimer) clearTimeout(h.readyTimer);
        h.msg.respond(release);
      }
      held.clear();
      lanes = createLanes();
    },
  };
}
