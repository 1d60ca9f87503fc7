/**
 * The pause records of a consumer group on its control topic, and the fold that turns the
 * newest of them into the group's paused queues.
 *
 * One record per change of one (group, queue): `{ queue, group, paused, version, pausedAt }`,
 * keyed by the queue. A writer reads the fold first and writes `version + 1`, so the fold keeps,
 * per queue, the record with the highest version; between records of equal version (two
 * operators wrote at once) the newest on the bus wins. A record that lost (an older version
 * written late, e.g. by a slow operator or a refresh) can never resurrect an old state.
 *
 * Bounds: only the newest {@link CONTROL_WINDOW} records are folded. A queue whose last record
 * falls out of that window counts as running; the watchers re-publish a paused record once it
 * sits in the older half of the window or is older than {@link REFRESH_AFTER_MS} (so Kafka's
 * retention, 14 days by default, never deletes a pause while any worker of the group runs).
 * At most {@link MAX_PAUSED} queues of a group are paused at once (a further pause is refused).
 * A pause is thus lost only if more than CONTROL_WINDOW / 2 records are written between two
 * polls of every watcher, or if no worker of the group runs for longer than the retention.
 */
import type { BrowsedMessage, Message } from '../eventbus/types.js';

/** How many of the newest control records are folded. */
export const CONTROL_WINDOW = 128;

/** Most queues paused at once per group: all their records must fit the newer half of the window. */
export const MAX_PAUSED = CONTROL_WINDOW / 2;

/** A paused record older than this is re-published by a watcher, ms (one day). */
export const REFRESH_AFTER_MS = 24 * 3_600_000;

/** The header every control record carries (and the format version). */
export const CONTROL_HEADER = 'jobbus-control';

/** The control topic of `group`: `jobbus.control.<group>`. */
export function controlTopicOf(group: string): string {
  return `jobbus.control.${group}`;
}

/** One change of one queue's state, as stored. */
export interface ControlRecord {
  readonly queue: string;
  readonly group: string;
  readonly paused: boolean;
  /** Grows by one with each change of this (group, queue). */
  readonly version: number;
  /** When the queue was paused (the pause's time, kept by refreshes), for paused records. */
  readonly pausedAt?: Date;
}

/** A record of the fold, with where it was found (for refreshes). */
export interface FoldedRecord extends ControlRecord {
  /** Its place among the browsed records, 0 = newest. */
  readonly index: number;
  /** When the bus stored it. */
  readonly storedAt: Date;
}

/** The record as a message. */
export function encodeRecord(r: ControlRecord): Message {
  const body = { queue: r.queue, group: r.group, paused: r.paused, version: r.version, ...(r.pausedAt && { pausedAt: r.pausedAt.toISOString() }) };
  return { key: r.queue, value: new TextEncoder().encode(JSON.stringify(body)), headers: { [CONTROL_HEADER]: '1' } };
}

/** The record in a message, or undefined when it is not one (ignored by the fold). */
export function decodeRecord(m: Message): ControlRecord | undefined {
  if (m.headers[CONTROL_HEADER] !== '1') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(m.value));
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  if (typeof b.queue !== 'string' || typeof b.group !== 'string' || typeof b.paused !== 'boolean') return undefined;
  if (typeof b.version !== 'number' || !Number.isSafeInteger(b.version) || b.version < 1) return undefined;
  const pausedAt = typeof b.pausedAt === 'string' ? new Date(b.pausedAt) : undefined;
  const valid = pausedAt !== undefined && !Number.isNaN(pausedAt.getTime());
  return { queue: b.queue, group: b.group, paused: b.paused, version: b.version, ...(valid && { pausedAt }) };
}

/** Per queue of `group`, the winning record among `newestFirst` (highest version; the newer of equals). */
export function foldRecords(newestFirst: readonly BrowsedMessage[], group: string): Map<string, FoldedRecord> {
  const out = new Map<string, FoldedRecord>();
  newestFirst.forEach((m, index) => {
    const r = decodeRecord(m);
    if (!r || r.group !== group) return;
    const current = out.get(r.queue);
    if (!current || r.version > current.version) out.set(r.queue, { ...r, index, storedAt: m.publishedAt });
  });
  return out;
}

/** Whether a watcher should re-publish `r` (a paused record about to leave the window or the topic's retention). */
export function needsRefresh(r: FoldedRecord, now: number): boolean {
  return r.paused && (r.index >= CONTROL_WINDOW / 2 || now - r.storedAt.getTime() >= REFRESH_AFTER_MS);
}
