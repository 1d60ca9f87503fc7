/**
 * One subscription: a pull loop on a group's durable consumer that hands messages to the
 * handler and settles them with native acks.
 *
 * It speaks the pull protocol itself over one long-lived inbox subscription (pull request
 * = a publish to `$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>` with `{batch, expires,
 * idle_heartbeat}`; the server answers with messages, idle heartbeats (status 100) and a
 * 408/409 status when a request ends early). The client's `fetch()` costs a subscription,
 * a status iterator and a heartbeat monitor per request; this costs one publish.
 */
import type { Msg, Subscription as NatsSubscription } from '@nats-io/nats-core';
import type { Delivery, Message, Subscription } from '../types.js';
import { settleOf, type Settle } from '../delivery.js';
import { createLanes, laneOf } from '../lanes.js';
import { rawHeaderBytes, readMessage } from './wire.js';
import { NAK, nanos, parseAckSubject, te, TERM, WPI } from './protocol.js';
import { createAcker } from './acker.js';
import { EARLY_HOLD_MS, RELAY_HOLD_MS } from './delay-tiers.js';
import type { Subscriber, SubscriberConfig } from './subscriber-config.js';

export type { Subscriber, SubscriberConfig } from './subscriber-config.js';

/** Most pull requests outstanding at once per subscriber. */
const MAX_PULLS = 4;

/** A message held by this subscriber until it is settled. */
interface Held {
  readonly msg: Msg;
  readonly message: Message;
  /** Ordering lane (see lanes.ts); a stream is one partition. */
  readonly lane: string | undefined;
  readonly seq: number;
  readonly deliveryCount: number;
  /** When the handler last showed life (delivery or `working()`), epoch ms. */
  lastSign: number;
  /** Delay relays: the timer that hands a held message to the handler when it is ready. */
  readyTimer?: NodeJS.Timeout;
  /** True while it waits behind the running delivery of its lane. */
  waiting: boolean;
  /** True once acked, naked or released. */
  done: boolean;
}

/**
 * Start a subscriber. The loop is event-driven: `pump()` runs after every settle and every
 * ended pull request, and asks for as many messages as there are free slots.
 *
 *   running --503, consumer deleted, heartbeats missed--> recovering
 *   recovering --backoff, consumer re-provisioned--> running
 *   running --reconnect--> running (pull requests forgotten and sent again)
 *   recovering --reconnect--> recovering (backoff and pending attempt dropped, retried at once)
 *   running | recovering --close()--> closing --held messages naked--> closed
 *
 * In-flight = messages received and not yet settled (running in the handler, or waiting
 * behind an equal key). Free = `maxInFlight - inFlight - requested but not yet received`,
 * so the server never hands this subscriber more than `maxInFlight` messages (except
 * briefly after a pull request was presumed lost and was not). A message delivered before
 * its due time is naked with the remaining delay at once and takes no slot; the handler
 * never sees it early.
 */
export function startSubscriber(cfg: SubscriberConfig): Subscriber {
  type State = 'running' | 'recovering' | 'closing' | 'closed';
  let state: State = 'running';
  let inFlight = 0;
  let failures = 0;
  let closing: Promise<void> | undefined;
  let recoverTimer: NodeJS.Timeout | undefined;
  /** Number of the latest recovery attempt (see tryResume). */
  let resumeAttempt = 0;
  /** Outstanding pull requests, oldest first: the server serves (and expires) them in order. */
  let requests: { remaining: number; sentAt: number }[] = [];
  let lastHeard = Date.now();
  const held = new Set<Held>();
  /** Deliveries waiting for the running one of their lane to settle (ordering `key`/`partition`). */
  let lanes = createLanes<Held>();
  const acker = createAcker(cfg);
  const threshold = Math.max(1, Math.floor(cfg.maxInFlight / 4));
  const heartbeatMs = Math.max(500, Math.min(1_000, Math.floor(cfg.pullExpiresMs / 2)));
  const nextSubject = `$JS.API.CONSUMER.MSG.NEXT.${cfg.stream}.${cfg.durable}`;
  let consumerAckWaitMs = cfg.consumerAckWaitMs;
  /** Ladder relays: no pulling before this time (epoch ms), see `readyInOrder`. */
  let pausedUntil = 0;
  let pauseTimer: NodeJS.Timeout | undefined;
  /** When the last pull request was sent (it lives at the server until `pullExpiresMs` after). */
  let lastPullAt = 0;

  const inbox: NatsSubscription = cfg.nc.subscribe(cfg.inbox, {
    callback: (err, msg) => {
      if (err) {
        cfg.logger.warn({ err, topic: cfg.topic }, 'pull inbox failed; recovering');
        recover(false);
        return;
      }
      lastHeard = Date.now();
      const code = msg.headers?.code ?? 0;
      if (code !== 0 && msg.data.length === 0) onStatus(code, msg.headers?.description ?? '');
      else onMessage(msg);
    },
  });

  // Deliveries waiting behind an equal key are ours to keep alive (nobody else knows them);
  // running ones too while the consumer's ack wait is shorter than this subscriber's lease;
  // and a pull request the server went quiet about (no heartbeat) is presumed lost.
  let ticker: NodeJS.Timeout | undefined;
  let tickEvery = 0;
  function tick(): void {
    for (const h of held) if (h.waiting && !h.done) h.msg.respond(WPI);
    const now = Date.now();
    for (const h of held) {
      // Waiting until ready (delay relays): kept alive once per third of the ack wait.
      if (h.readyTimer && !h.done && now - h.lastSign >= consumerAckWaitMs / 3) {
        h.lastSign = now;
        h.msg.respond(WPI);
      }
    }
    if (consumerAckWaitMs < cfg.ackTimeoutMs) {
      for (const h of held) if (!h.done && now - h.lastSign < cfg.ackTimeoutMs) h.msg.respond(WPI);
    }
    if (state === 'running' && requests.length > 0 && Date.now() - lastHeard > 3 * heartbeatMs) {
      cfg.logger.debug({ topic: cfg.topic, group: cfg.group }, 'pull heartbeats missed; recovering');
      recover(true);
    }
  }
  function startTicker(): void {
    const every = Math.max(100, Math.min(heartbeatMs, Math.floor(Math.min(cfg.ackTimeoutMs, consumerAckWaitMs) / 3)));
    if (every === tickEvery && ticker) return;
    if (ticker) clearInterval(ticker);
    tickEvery = every;
    ticker = setInterval(tick, every);
    ticker.unref();
  }
  startTicker();

  function requested(): number {
    let n = 0;
    for (const r of requests) n += r.remaining;
    return n;
  }

  /** Pull nothing before `t`: the first message not ready for long decides (those after it are later still). */
  function pauseUntil(t: number): void {
    if (pausedUntil > Date.now()) return; // already paused, until an earlier message is back
    pausedUntil = t;
    if (pauseTimer) clearTimeout(pauseTimer);
    pauseTimer = setTimeout(() => {
      pauseTimer = undefined;
      pump();
    }, t - Date.now());
    pauseTimer.unref();
  }

  function pump(): void {
    if (state !== 'running' || requests.length >= MAX_PULLS || Date.now() < pausedUntil) return;
    const free = cfg.maxInFlight - inFlight - requested();
    if (free <= 0 || (requests.length > 0 && free < threshold)) return;
    if (requests.length === 0) lastHeard = Date.now();
    lastPullAt = Date.now();
    requests.push({ remaining: free, sentAt: lastPullAt });
    try {
      cfg.nc.publish(
        nextSubject,
        te.encode(JSON.stringify({ batch: free, expires: nanos(cfg.pullExpiresMs), idle_heartbeat: nanos(heartbeatMs) })),
        { reply: cfg.inbox },
      );
    } catch (err) {
      requests.pop();
      recover(false, err);
    }
  }

  function onStatus(code: number, description: string): void {
    if (code === 100) return; // idle heartbeat: the request is alive
    if (code === 408 || code === 404) {
      requests.shift(); // expired (or nothing to do); ask again if there is room
      pump();
      return;
    }
    if (code === 409) {
      if (/deleted/i.test(description)) {
        recover(true, new Error(`consumer ${cfg.durable}: ${description}`));
        return;
      }
      // e.g. "Exceeded MaxWaiting", "Leadership Change": this request is over.
      requests.shift();
      cfg.logger.debug({ topic: cfg.topic, code, description }, 'pull request ended');
      if (requests.length === 0) recover(false, new Error(`${code} ${description}`));
      return;
    }
    // 503 no responders (no stream or consumer, JetStream down) or anything unexpected.
    recover(true, new Error(`pull request: ${code} ${description}`));
  }

  /** Forget the pull requests, wait (backing off), make sure the consumer exists, pull again. */
  function recover(refresh: boolean, err?: unknown): void {
    if (state !== 'running') return;
    state = 'recovering';
    requests = [];
    failures++;
    const wait = Math.min(5_000, 50 * 2 ** Math.min(failures, 7));
    cfg.logger.debug({ err, topic: cfg.topic, group: cfg.group, wait }, 'consumer loop recovering');
    recoverTimer = setTimeout(() => {
      recoverTimer = undefined;
      tryResume(refresh);
    }, wait);
  }

  /**
   * One recovery attempt: make sure the consumer exists, then pull again. Only the latest
   * attempt counts: one started before a reconnect may wait out a request lost with the old
   * connection, and the reconnect starts a new one at once.
   */
  function tryResume(refresh: boolean): void {
    const attempt = ++resumeAttempt;
    const current = (): boolean => state === 'recovering' && attempt === resumeAttempt;
    cfg.ensureConsumer(refresh).then(
      (ackWaitMs) => {
        if (!current()) return;
        consumerAckWaitMs = ackWaitMs;
        startTicker();
        state = 'running';
        pump();
      },
      (e: unknown) => {
        if (!current()) return;
        state = 'running';
        recover(true, e);
      },
    );
  }

  function onMessage(msg: Msg): void {
    const head = requests[0];
    if (head && --head.remaining <= 0) requests.shift();
    if (state === 'closing' || state === 'closed') {
      msg.respond(NAK); // released: the group gets it again at once
      return;
    }
    failures = 0;
    const { message, dueAt } = readMessage(msg.data, msg.headers, rawHeaderBytes(msg), cfg.keepDueAt);
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
      // What follows on a ladder rung is ready later still: pull nothing before this one is back.
      if (cfg.readyInOrder) pauseUntil(now + back);
      pump();
      return;
    }
    const lane = laneOf(cfg.ordering, 0, message.key);
    const h: Held = { msg, message, lane, seq, deliveryCount, lastSign: now, waiting: false, done: false };
    inFlight++;
    held.add(h);
    admitAt(h, readyAt);
  }

  /** How long before it is ready a relay holds a message (a slot each, so short; within the ack wait). */
  function holdHorizonMs(): number {
    return Math.min(RELAY_HOLD_MS, consumerAckWaitMs / 2);
  }

  /** Admit `h` at `readyAt` (epoch ms), never before: a timer can fire a millisecond early. */
  function admitAt(h: Held, readyAt: number): void {
    const wait = readyAt - Date.now();
    if (wait <= 0) {
      h.readyTimer = undefined;
      admit(h);
      return;
    }
    h.readyTimer = setTimeout(() => {
      if (!h.done) admitAt(h, readyAt);
    }, wait);
  }

  /** Run a delivery now, or behind the running one of its lane. */
  function admit(h: Held): void {
    if (lanes.admit(h.lane, h)) run(h);
    else h.waiting = true;
  }

  function run(h: Held): void {
    h.waiting = false;
    const delivery: Delivery = {
      topic: cfg.topic,
      message: h.message,
      deliveryCount: h.deliveryCount,
      position: `${cfg.stream}#${h.seq}`,
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
    inFlight--;
    if (s.kind === 'terminate') h.msg.respond(TERM);
    else if (s.kind === 'ack') acker.ack(h.msg, `${cfg.stream}#${h.seq}`);
    else if (s.delayMs > 0) h.msg.respond(te.encode(`-NAK {"delay":${nanos(s.delayMs)}}`));
    else h.msg.respond(NAK);
    const next = lanes.release(h.lane);
    if (next) run(next);
    pump();
  }

  pump();

  const subscription: Subscription = {
    topic: cfg.topic,
    group: cfg.group,
    close() {
      closing ??= (async () => {
        state = 'closing';
        if (recoverTimer) clearTimeout(recoverTimer);
        if (ticker) clearInterval(ticker);
        if (pauseTimer) clearTimeout(pauseTimer);
        acker.flush(); // settled before close: acked, not released
        // Pull requests cannot be cancelled: a message the server sends to this inbox after it
        // is gone waits out ack wait. So the inbox goes first (and the server has seen that,
        // after the flush) and only then is what we hold released: were it naked first, the
        // server would hand it straight back to this subscriber's outstanding pull requests.
        inbox.unsubscribe();
        await Promise.race([cfg.nc.flush().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, cfg.settleTimeoutMs).unref())]);
        // Release everything held (running or waiting behind a key) to the group, once this
        // subscriber's pull requests have expired at the server: on 2.9.10 a redelivery that
        // comes due while the only waiting requests are ones whose inbox is gone is handed to
        // such a dead request — it then waits out ack wait, and another message is delivered
        // twice (reproduced with plain JetStream; test "hands every message a closing
        // subscriber held back"). So the release waits at most `pullExpiresMs`, not ack wait.
        const releaseIn = Math.max(1, lastPullAt + cfg.pullExpiresMs + 50 - Date.now());
        const release = te.encode(`-NAK {"delay":${nanos(releaseIn)}}`);
        for (const h of held) {
          h.done = true;
          if (h.readyTimer) clearTimeout(h.readyTimer);
          h.msg.respond(release);
        }
        held.clear();
        lanes = createLanes();
        inFlight = 0;
        // Bounded: with the server unreachable these would wait for a reconnect. Whatever is
        // not confirmed is redelivered after ack wait.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...acker.pending(), cfg.nc.flush()]),
          new Promise((resolve) => (timer = setTimeout(resolve, cfg.settleTimeoutMs))),
        ]);
        clearTimeout(timer);
        state = 'closed';
        cfg.onClosed();
      })();
      return closing;
    },
  };

  return {
    subscription,
    reconnected() {
      if (state === 'recovering') {
        // Recovering through the outage, maybe backed off to seconds or waiting on a request
        // sent into the dead connection: the connection is back, so try now.
        if (recoverTimer) clearTimeout(recoverTimer);
        recoverTimer = undefined;
        failures = 0;
        tryResume(true);
        return;
      }
      if (state !== 'running') return;
      requests = []; // the server dropped them with the old connection
      lastHeard = Date.now();
      pump();
    },
  };
}
