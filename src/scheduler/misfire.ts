/**
 * Misfire: which of a task's due ticks to fire now. Pure: the engine passes the schedule, the
 * last tick already dealt with (fired by any instance, or passed over by this one), the
 * clock, the policy and the grace window, and fires what this returns.
 */
import type { MisfirePolicy } from './types.js';
import type { Schedule } from './schedule.js';

/** Most ticks counted (skipped, collapsed) or fired in one decision; a longer backlog is reported as capped. */
export const MAX_COUNTED = 1_000;

/** What {@link decideMisfire} takes. */
export interface MisfireInput {
  readonly schedule: Schedule;
  /** Ticks at or before this were fired or dealt with; undefined when the task has no history (nothing is overdue). */
  readonly lastFired: Date | undefined;
  readonly now: Date;
  readonly policy: MisfirePolicy;
  /** `skip` still fires a tick at most this late, ms. */
  readonly graceMs: number;
}

/** What to do now. */
export interface MisfireDecision {
  /** Ticks to fire now, oldest first (at most one under `fire_once`). */
  readonly fire: readonly Date[];
  /** Ticks dropped for being later than the grace window (`skip`). */
  readonly skipped: number;
  /** Ticks folded into the one catch-up run besides the one fired (`fire_once`). */
  readonly collapsed: number;
  /** True when a count stopped at {@link MAX_COUNTED}: the real backlog was larger. */
  readonly capped: boolean;
}

const NOTHING: MisfireDecision = { fire: [], skipped: 0, collapsed: 0, capped: false };

/**
 * Decide the ticks in (lastFired, now]. `skip`: ticks later than `graceMs` are dropped and
 * counted, the others fire in order. `fire_once`: the latest due tick fires, standing for all of
 * them (its id and lock are what every instance computes for this catch-up); the rest count
 * as collapsed.
 */
export function decideMisfire(input: MisfireInput): MisfireDecision {
  const { schedule, lastFired, now, policy, graceMs } = input;
  if (lastFired === undefined || lastFired.getTime() >= now.getTime()) return NOTHING;
  const since = lastFired.getTime();
  const until = now.getTime();
  if (policy === 'fire_once') {
    const latest = latestAtOrBefore(schedule, since, until);
    if (latest === undefined) return NOTHING;
    const { count, capped } = countTicks(schedule, since, latest);
    return { fire: [new Date(latest)], skipped: 0, collapsed: count, capped };
  }
  // Ticks before `oldest` are past the grace window.
  const oldest = until - graceMs;
  const fire: Date[] = [];
  let at = Math.max(since, oldest - 1);
  for (let t = schedule.next(new Date(at)).getTime(); t <= until && fire.length < MAX_COUNTED; t = schedule.next(new Date(at)).getTime()) {
    fire.push(new Date(t));
    at = t;
  }
  const late = since < oldest - 1 ? countTicks(schedule, since, oldest) : { count: 0, capped: false };
  return { fire, skipped: late.count, collapsed: 0, capped: late.capped || fire.length >= MAX_COUNTED };
}

/** Ticks in (from, to), counted up to {@link MAX_COUNTED} (exactly, by arithmetic, for `@every`). */
export function countTicks(schedule: Schedule, from: number, to: number): { count: number; capped: boolean } {
  if (to <= from) return { count: 0, capped: false };
  if (schedule.everyMs !== undefined) {
    const count = Math.max(0, Math.floor((to - 1) / schedule.everyMs) - Math.floor(from / schedule.everyMs));
    return { count, capped: false };
  }
  let count = 0;
  for (let t = schedule.next(new Date(from)).getTime(); t < to; t = schedule.next(new Date(t)).getTime()) {
    if (++count >= MAX_COUNTED) return { count, capped: true };
  }
  return { count, capped: false };
}

/** The latest tick in (since, until], or undefined: look back over doubling windows from `until`. */
export function latestAtOrBefore(schedule: Schedule, since: number, until: number): number | undefined {
  if (schedule.everyMs !== undefined) {
    const t = Math.floor(until / schedule.everyMs) * schedule.everyMs;
    return t > since ? t : undefined;
  }
  for (let window = 1_000; ; window *= 2) {
    const from = Math.max(until - window, since);
    let t = schedule.next(new Date(from)).getTime();
    if (t <= until) {
      for (let n = 0; n < MAX_COUNTED; n++) {
        const after = schedule.next(new Date(t)).getTime();
        if (after > until) break;
        t = after;
      }
      return t;
    }
    if (from === since) return undefined;
  }
}
