/**
 * Fetch positions of the platformatic group consumer (platformatic-group-consumer.ts): where a
 * new assignment starts, which partitions a fetch asks for, and where a delivered fetch leaves
 * them (the pipelined fetch asks from there).
 */
import type * as Plt from '@platformatic/kafka';
import { groupCommitted, watermarks } from './platformatic-admin.js';
import type { FetchedPartition, FetchTarget } from './platformatic-fetch.js';

/** The map key of a partition. */
export const key = (topic: string, partition: number): string => `${topic}:${partition}`;

/** Fetch positions of a new assignment: the group's committed offsets, else the earliest retained. */
export async function startPositions(admin: Plt.Admin, groupId: string, topic: string, partitions: readonly number[]): Promise<Map<number, number>> {
  const committed = new Map((await groupCommitted(admin, groupId, topic)).map((c) => [c.partition, c.offset]));
  const out = new Map<number, number>();
  let lows: Map<number, number> | undefined;
  for (const p of partitions) {
    const c = committed.get(p);
    if (c !== undefined && c >= 0) out.set(p, c);
    else {
      lows ??= new Map((await watermarks(admin, topic)).map((w) => [w.partition, w.low]));
      out.set(p, lows.get(p) ?? 0);
    }
  }
  return out;
}

/** The fetch positions to ask for: the assigned, not paused partitions, at `at` (none where it is undefined). */
export function fetchTargets(
  assignment: ReadonlyMap<string, readonly number[]> | undefined,
  paused: ReadonlySet<string>,
  pausedTopics: ReadonlySet<string>,
  at: (k: string) => number | undefined,
): FetchTarget[] {
  const targets: FetchTarget[] = [];
  for (const [topic, partitions] of assignment ?? []) {
    if (pausedTopics.has(topic)) continue;
    for (const partition of partitions) {
      const k = key(topic, partition);
      const offset = at(k);
      if (offset !== undefined && !paused.has(k)) targets.push({ topic, partition, offset });
    }
  }
  return targets;
}

/**
 * Where delivering `fetched` leaves each partition if every record is admitted: only a batch that
 * continues the partition's current position is delivered and moves it.
 */
export function positionsAfter(fetched: readonly FetchedPartition[], positions: ReadonlyMap<string, number>): Map<string, number> {
  const after = new Map<string, number>();
  for (const f of fetched) {
    const k = key(f.topic, f.partition);
    if (f.outOfRange === undefined && f.nextOffset !== undefined && positions.get(k) === f.from) after.set(k, f.nextOffset);
  }
  return after;
}

/** Run `fn` over `items`, at most `limit` at once. */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < items.length) await fn(items[i++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
