/**
 * The pull loop of one subscriber, speaking the pull protocol itself over one long-lived inbox
 * subscription (pull request = a publish to `$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>`
 * with `{batch, expires, idle_heartbeat}`; the server answers with messages, idle heartbeats
 * (status 100) and a 408/409 status when a request ends early). The client's `fetch()` costs a
 * subscription, a status iterator and a heartbeat monitor per request; this costs one publish.
 *
 *   running --503, consumer deleted, heartbeats missed--> recovering
 *   recovering --backoff, consumer re-provisioned--> running
 *   running --reconnect--> running (pull requests forgotten and sent again)
 *   recovering --reconnect--> recovering (backoff and pending attempt dropped, retried at once)
 *   running | recovering --stop()--> stopped (inbox gone; a late message is naked back)
 *
 * Event-driven: `pump()` runs after every settle and every ended pull request, and asks for as
 * many messages as there are free slots, less what outstanding requests may still bring.
 */
import type { Msg, Subscription as NatsSubscription } from '@nats-io/nats-core';
import { NAK, nanos, te } from './protocol.js';
import { payloadLength } from './wire.js';
import type { SubscriberConfig } from './subscriber-config.js';

/** Most pull requests outstanding at once per subscriber. */
const MAX_PULLS = 4;

/** See the module comment. */
export interface PullLoop {
  /** Server heartbeat interval of the pull requests, ms. */
  readonly heartbeatMs: number;
  /** Ask for messages if there is room. */
  pump(): void;
  /** Pull nothing before `t` (epoch ms); already paused: kept until the earlier time. */
  pauseUntil(t: number): void;
  /** From the subscriber's ticker: a request the server went quiet about is presumed lost. */
  checkHeartbeats(): void;
  /** The connection came back: the server forgot this connection's pull requests. */
  reconnected(): void;
  /** Stop for good and unsubscribe the inbox. */
  stop(): void;
  /** When the last pull request was sent, epoch ms (it lives at the server until `pullExpiresMs` after). */
  lastPullAt(): number;
}

/** What the pull loop needs from its subscriber. */
export interface PullDeps {
  readonly cfg: SubscriberConfig;
  /** Slots not taken by held messages: `maxInFlight` less what the subscriber holds. */
  free(): number;
  /** A message arrived (while running or recovering). */
  onMessage(msg: Msg): void;
  /** The consumer was (re)provisioned after a recovery, with this ack wait (ms). */
  onResumed(consumerAckWaitMs: number): void;
}

/** Start the pull loop (it sends its first request at once). */
export function startPullLoop(d: PullDeps): PullLoop {
  const { cfg } = d;
  let state: 'running' | 'recovering' | 'stopped' = 'running';
  let failures = 0;
  let recoverTimer: NodeJS.Timeout | undefined;
  /** Number of the latest recovery attempt (see tryResume). */
  let resumeAttempt = 0;
  /** Outstanding pull requests, oldest first: the server serves (and expires) them in order. */
  let requests: { remaining: number; sentAt: number }[] = [];
  let lastHeard = Date.now();
  let lastPullAt = 0;
  /** Ladder relays: no pulling before this time (epoch ms). */
  let pausedUntil = 0;
  let pauseTimer: NodeJS.Timeout | undefined;
  const threshold = Math.max(1, Math.floor(cfg.maxInFlight / 4));
  const heartbeatMs = Math.max(500, Math.min(1_000, Math.floor(cfg.pullExpiresMs / 2)));
  const nextSubject = `$JS.API.CONSUMER.MSG.NEXT.${cfg.stream}.${cfg.durable}`;

  const inbox: NatsSubscription = cfg.nc.subscribe(cfg.inbox, {
    callback: (err, msg) => {
      if (err) {
        cfg.logger.warn({ err, topic: cfg.topic }, 'pull inbox failed; recovering');
        recover(false);
        return;
      }
      lastHeard = Date.now();
      // A status (heartbeat, 408…) has headers and no payload; a job's headers are read once,
      // later (held.ts), so they are not decoded here.
      const code = payloadLength(msg) === 0 ? (msg.headers?.code ?? 0) : 0;
      if (code !== 0) onStatus(code, msg.headers?.description ?? '');
      else onMessage(msg);
    },
  });

  function requested(): number {
    let n = 0;
    for (const r of requests) n += r.remaining;
    return n;
  }

  function pump(): void {
    if (state !== 'running' || requests.length >= MAX_PULLS || Date.now() < pausedUntil) return;
    const free = d.free() - requested();
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

  function onMessage(msg: Msg): void {
    const head = requests[0];
    if (head && --head.remaining <= 0) requests.shift();
    if (state === 'stopped') {
      msg.respond(NAK); // released: the group gets it again at once
      return;
    }
    failures = 0;
    d.onMessage(msg);
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
        d.onResumed(ackWaitMs);
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

  pump();

  return {
    heartbeatMs,
    pump,
    pauseUntil(t) {
      if (pausedUntil > Date.now()) return; // already paused, until an earlier message is back
      pausedUntil = t;
      if (pauseTimer) clearTimeout(pauseTimer);
      pauseTimer = setTimeout(() => {
        pauseTimer = undefined;
        pump();
      }, t - Date.now());
      pauseTimer.unref();
    },
    checkHeartbeats() {
      if (state === 'running' && requests.length > 0 && Date.now() - lastHeard > 3 * heartbeatMs) {
        cfg.logger.debug({ topic: cfg.topic, group: cfg.group }, 'pull heartbeats missed; recovering');
        recover(true);
      }
    },
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
    stop() {
      state = 'stopped';
      if (recoverTimer) clearTimeout(recoverTimer);
      if (pauseTimer) clearTimeout(pauseTimer);
      inbox.unsubscribe();
    },
    lastPullAt: () => lastPullAt,
  };
}
