/**
 * Delay tiers: the fixed ladder of `<topic>.delay.<tier>` topics that persists delayed
 * messages in Kafka (DESIGN.md "Mechanisms"). Pure functions, no I/O.
 *
 * Why "hold exactly one tier interval" instead of "hold until due": a relay reads a tier
 * topic strictly in offset order and pauses at the first message that is not ready. That is
 * only correct when release times grow with offsets. A message entering tier T at time e is
 * released at min(due, e + T); since e grows with offsets and T is constant, so does the
 * release time. A message is put in the largest tier <= its remaining delay, so it never waits
 * in a tier longer than it has left; a delay longer than the largest tier hops tiers, and what
 * is left once less than the smallest tier remains is held by the subscriber (isSubTierDelay).
 */
import { InvalidArgumentError } from '../../errors.js';

/** One rung of the delay ladder. */
export interface DelayTier {
  /** Topic-safe name, e.g. `1s`, `10m`, `250ms`. */
  readonly name: string;
  /** How long a message waits in this tier at most, ms. */
  readonly ms: number;
}

/** Default ladder: 1 s, 10 s, 1 min, 10 min, 1 h. */
export const DEFAULT_DELAY_TIERS_MS: readonly number[] = Object.freeze([1_000, 10_000, 60_000, 600_000, 3_600_000]);

/** Topic-safe name of a tier length: `1h`, `10m`, `1s`, else `<n>ms`. */
export function tierName(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

/** Validate and sort a ladder (positive integer ms, no duplicates). */
export function makeTiers(tiersMs: readonly number[] = DEFAULT_DELAY_TIERS_MS): readonly DelayTier[] {
  if (tiersMs.length === 0) throw new InvalidArgumentError('delayTiersMs must name at least one tier');
  const sorted = [...tiersMs].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i++) {
    const ms = sorted[i]!;
    if (!Number.isInteger(ms) || ms <= 0) {
      throw new InvalidArgumentError(`delayTiersMs: every tier must be a positive integer number of ms, got ${ms}`);
    }
    if (i > 0 && sorted[i - 1] === ms) throw new InvalidArgumentError(`delayTiersMs: duplicate tier ${ms}`);
  }
  return Object.freeze(sorted.map((ms) => Object.freeze({ name: tierName(ms), ms })));
}

/** The largest tier <= `remainingMs`, else the smallest one (which then holds until due). */
export function pickTier(tiers: readonly DelayTier[], remainingMs: number): DelayTier {
  let chosen = tiers[0]!;
  for (const tier of tiers) {
    if (tier.ms <= remainingMs) chosen = tier;
    else break;
  }
  return chosen;
}

/** Name of the delay topic of `topic` for `tier`. */
export function delayTopicName(topic: string, tier: DelayTier): string {
  return `${topic}.delay.${tier.name}`;
}

/** The topic a delay topic forwards to (`orders.delay.10s` -> `orders`), or undefined if not a delay topic name. */
export function targetOfDelayTopic(delayTopic: string): string | undefined {
  const m = /^(.+)\.delay\.[0-9]+(?:ms|s|m|h)$/.exec(delayTopic);
  return m?.[1];
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Tier length of a tier name (`1s` -> 1000, `250ms` -> 250), or undefined when it is not one. */
export function parseTierName(name: string): number | undefined {
  const m = /^([0-9]{1,12})(ms|s|m|h)$/.exec(name);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}

/**
 * The delay tiers of `topic` among existing topic names (`<topic>.delay.<tier>`), whatever
 * ladder created them (L3), smallest first.
 */
export function delayTiersAmong(topic: string, topicNames: Iterable<string>): DelayTier[] {
  const prefix = `${topic}.delay.`;
  const out: DelayTier[] = [];
  for (const name of topicNames) {
    if (!name.startsWith(prefix)) continue;
    const suffix = name.slice(prefix.length);
    const ms = parseTierName(suffix);
    // Only the canonical name of a length (`1s`, not `1000ms`) is ours; others are left alone.
    if (ms !== undefined && suffix === tierName(ms)) out.push({ name: suffix, ms });
  }
  return out.sort((a, b) => a.ms - b.ms);
}

/** When a message that entered `tier` at `enteredAtMs` with final due `dueAtMs` leaves the tier. */
export function releaseAt(tier: DelayTier, enteredAtMs: number, dueAtMs: number): number {
  return Math.min(dueAtMs, enteredAtMs + tier.ms);
}

/**
 * What a relay does with the head message of a tier partition. `forward` with `early` set
 * hands a message to its target topic before it is due, still carrying its due time: less
 * than the smallest tier is left, and the subscriber holds it in memory until due (see
 * {@link isSubTierDelay}).
 */
export type RelayDecision =
  | { readonly kind: 'wait'; readonly untilMs: number }
  | { readonly kind: 'forward'; readonly early: boolean }
  | { readonly kind: 'hop'; readonly tier: DelayTier };

/**
 * Whether a delay is shorter than the smallest tier. Such a delay never enters a tier topic: in
 * one, it would queue behind messages released up to a whole tier later (head-of-line, since a
 * relay reads in offset order), so a 100 ms delay could run ~10x late. It goes to the target
 * topic with its due time instead, and the subscriber holds it until due (a held message takes
 * an in-flight slot, so the subscriber's cap bounds the memory).
 */
export function isSubTierDelay(tiers: readonly DelayTier[], remainingMs: number): boolean {
  return remainingMs < tiers[0]!.ms;
}

/**
 * Decide the fate of a message in `tier` at `nowMs`: wait (pause the partition until
 * `untilMs`), forward to the target topic (due, or less than the smallest tier left), or hop
 * to another tier (still far).
 */
export function relayDecision(
  tiers: readonly DelayTier[],
  tier: DelayTier,
  nowMs: number,
  enteredAtMs: number,
  dueAtMs: number,
): RelayDecision {
  const release = releaseAt(tier, enteredAtMs, dueAtMs);
  if (nowMs < release) return { kind: 'wait', untilMs: release };
  const remaining = dueAtMs - nowMs;
  if (remaining <= 0) return { kind: 'forward', early: false };
  if (isSubTierDelay(tiers, remaining)) return { kind: 'forward', early: true };
  return { kind: 'hop', tier: pickTier(tiers, remaining) };
}
