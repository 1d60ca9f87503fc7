/**
 * One subscription: a pull loop on a group's durable consumer (pull.ts) that hands messages to
 * the handler and settles them with native acks (held.ts), and a ticker for keep-alives and
 * missed pull heartbeats.
 *
 *   open --close()--> closing (pull loop stopped, inbox gone) --held messages naked--> closed
 *
 * In-flight = messages received and not yet settled (running in the handler, waiting behind an
 * equal key, or timed until ready). The pull loop asks only for `maxInFlight - inFlight` less
 * what its outstanding requests may still bring, so the server never hands this subscriber more
 * than `maxInFlight` messages (except briefly after a pull request was presumed lost and was
 * not). A message delivered before its due time is naked with the remaining delay at once and
 * takes no slot; the handler never sees it early.
 */
import type { Subscription } from '../types.js';
import { createAcker } from './acker.js';
import { createHeldMessages } from './held.js';
import { startPullLoop } from './pull.js';
import type { Subscriber, SubscriberConfig } from './subscriber-config.js';

export type { Subscriber, SubscriberConfig } from './subscriber-config.js';

/** Start a subscriber (see the module comment). */
export function startSubscriber(cfg: SubscriberConfig): Subscriber {
  let closing: Promise<void> | undefined;
  let consumerAckWaitMs = cfg.consumerAckWaitMs;
  const acker = createAcker(cfg);
  const held = createHeldMessages({ cfg, acker, consumerAckWaitMs: () => consumerAckWaitMs, onSettled: () => pull.pump() });
  const pull = startPullLoop({
    cfg,
    free: () => cfg.maxInFlight - held.count(),
    onMessage(msg) {
      const back = held.receive(msg);
      if (back === undefined) return;
      // What follows on a ladder rung is ready later still: pull nothing before this one is back.
      if (cfg.readyInOrder) pull.pauseUntil(back);
      pull.pump();
    },
    onResumed(ackWaitMs) {
      consumerAckWaitMs = ackWaitMs;
      startTicker();
    },
  });

  // Keep-alives of what only this subscriber knows (held.ts), and a pull request the server went
  // quiet about (no heartbeat) is presumed lost. Runs at least every third of the shorter of
  // lease and ack wait.
  let ticker: NodeJS.Timeout | undefined;
  let tickEvery = 0;
  function startTicker(): void {
    const every = Math.max(100, Math.min(pull.heartbeatMs, Math.floor(Math.min(cfg.ackTimeoutMs, consumerAckWaitMs) / 3)));
    if (every === tickEvery && ticker) return;
    if (ticker) clearInterval(ticker);
    tickEvery = every;
    ticker = setInterval(() => {
      held.keepAlive();
      pull.checkHeartbeats();
    }, every);
    ticker.unref();
  }
  startTicker();

  async function close(): Promise<void> {
    if (ticker) clearInterval(ticker);
    acker.flush(); // settled before close: acked, not released
    // Pull requests cannot be cancelled: a message the server sends to this inbox after it
    // is gone waits out ack wait. So the inbox goes first (and the server has seen that,
    // after the flush) and only then is what we hold released: were it naked first, the
    // server would hand it straight back to this subscriber's outstanding pull requests.
    pull.stop();
    await Promise.race([cfg.nc.flush().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, cfg.settleTimeoutMs).unref())]);
    // Release everything held (running or waiting behind a key) to the group, once this
    // subscriber's pull requests have expired at the server: on 2.9.10 a redelivery that
    // comes due while the only waiting requests are ones whose inbox is gone is handed to
    // such a dead request — it then waits out ack wait, and another message is delivered
    // twice (reproduced with plain JetStream; test "hands every message a closing
    // subscriber held back"). So the release waits at most `pullExpiresMs`, not ack wait.
    held.releaseAll(Math.max(1, pull.lastPullAt() + cfg.pullExpiresMs + 50 - Date.now()));
    // Bounded: with the server unreachable these would wait for a reconnect. Whatever is
    // not confirmed is redelivered after ack wait.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...acker.pending(), cfg.nc.flush()]),
      new Promise((resolve) => (timer = setTimeout(resolve, cfg.settleTimeoutMs))),
    ]);
    clearTimeout(timer);
    cfg.onClosed();
  }

  const subscription: Subscription = {
    topic: cfg.topic,
    group: cfg.group,
    close: () => (closing ??= close()),
  };
  return { subscription, reconnected: () => pull.reconnected() };
}
