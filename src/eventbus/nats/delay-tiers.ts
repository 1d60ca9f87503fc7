/**
 * The ladder of a topic's delay stream (see relay.ts), as in the Kafka adapter's delay tiers.
 *
 * A delayed message is stored on the subject of the largest tier not longer than its remaining
 * delay. Within one tier, a message becomes ready at the time it was stored plus the tier's
 * length, so readiness grows with the stream sequence: a tier's relay holds the messages at its
 * head until they are ready (a local timer each, at most its in-flight cap) and pulls nothing
 * more meanwhile — a million messages delayed by an hour cost one delivery each per hop, not a
 * nak each at once, and no server-side timer. When ready, a message either is due within
 * {@link FORWARD_LEAD_MS} (forwarded to the queue stream) or moves to the tier of its remaining
 * delay. Under a second left, it waits in the `near` tier, whose relay holds each message until
 * {@link FORWARD_LEAD_MS} before it is due: few at a time (what is due within a second).
 *
 * The ladder is the Kafka adapter's (1 s, 10 s, 1 min, 10 min, 1 h). Cost: a message moves down
 * at most 9 times per rung (a delay of 59 min 59 s: 5 + 9 + 5 + 9 moves), i.e. a few dozen
 * re-publishes over a long delay, each one stream write; in exchange no consumer holds more
 * than a relay's in-flight cap of waiting messages.
 * Each rung is one relay subscriber per topic per process.
 */

/**
 * A relay forwards a message to the queue stream this long before it is due (its due-time
 * header travels with it), and a publish due within this goes there directly: the queue's
 * subscriber holds such a message in process until due (see {@link EARLY_HOLD_MS}), so a burst
 * of jobs due at one instant is forwarded ahead of time instead of after it.
 */
export const FORWARD_LEAD_MS = 400;

/**
 * A subscriber holds a message that arrives at most this early in process (a local timer, an
 * in-flight slot) instead of naking it with the remaining delay: the server's redelivery timer
 * is coarser than a local one. More than {@link FORWARD_LEAD_MS}, for the forward's own latency.
 */
export const EARLY_HOLD_MS = 1_000;

/**
 * A relay holds a message in process (a local timer, an in-flight slot) only from this long
 * before it is ready; until then the server keeps it (naked until shortly before). Short, since
 * a held message takes one of the relay's slots: a rung moves at most its in-flight cap per
 * this much time per process.
 */
export const RELAY_HOLD_MS = 1_000;

/** One rung of the ladder. */
export interface DelayTier {
  /** Subject token. */
  readonly name: string;
  /** How long a message waits in this tier before it is looked at again, ms (0 for `near`). */
  readonly holdMs: number;
}

/** Remaining delays under the smallest held tier wait here, each naked until due. */
export const NEAR_TIER: DelayTier = { name: 'near', holdMs: 0 };

/** All tiers, shortest first. */
export const DELAY_TIERS: readonly DelayTier[] = [
  NEAR_TIER,
  { name: 't1s', holdMs: 1_000 },
  { name: 't10s', holdMs: 10_000 },
  { name: 't1m', holdMs: 60_000 },
  { name: 't10m', holdMs: 600_000 },
  { name: 't1h', holdMs: 3_600_000 },
];

/** The tier a message with `remainingMs` left goes to: the largest not longer than it. */
export function tierFor(remainingMs: number): DelayTier {
  let best = NEAR_TIER;
  for (const t of DELAY_TIERS) if (t.holdMs > 0 && t.holdMs <= remainingMs) best = t;
  return best;
}
