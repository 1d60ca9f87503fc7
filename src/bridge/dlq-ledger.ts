/**
 * The replay ledger of one DLQ: a retained topic beside it (`<dlq>.replayed`) holding a "done"
 * mark per entry a replay has published back to its queue and not yet removed from the DLQ.
 * Kept on the bus itself, so it needs no other store and survives the process.
 */
import type { BrowsableBus, EventBus } from '../eventbus/types.js';

/** Header of a ledger mark naming the replayed entry. */
export const REPLAY_DONE_HEADER = 'job_replay_done';

/** The ledger topic of the DLQ `dlq`. */
export function ledgerTopicOf(dlq: string): string {
  return `${dlq}.replayed`;
}

/** Read, append to and prune one DLQ's ledger. */
export interface ReplayLedger {
  /** The ledger topic. */
  readonly topic: string;
  /** Entry ids marked done (the newest `limit` marks). */
  read(limit: number): Promise<Set<string>>;
  /** Mark `entryIds` done; resolves once the bus stored the marks. */
  mark(entryIds: readonly string[]): Promise<void>;
  /** Drop the marks of `entryIds` (their entries are gone from the DLQ). */
  clear(entryIds: ReadonlySet<string>): Promise<void>;
}

/** The ledger of the DLQ `dlq` on `bus`. */
export function replayLedger(bus: EventBus & BrowsableBus, dlq: string): ReplayLedger {
  const topic = ledgerTopicOf(dlq);
  const encoder = new TextEncoder();
  return {
    topic,
    async read(limit) {
      const marks = await bus.browse(topic, limit);
      return new Set(marks.map((m) => m.headers[REPLAY_DONE_HEADER]).filter((id): id is string => !!id));
    },
    async mark(entryIds) {
      const marks = entryIds.map((id) => ({ key: id, value: encoder.encode(id), headers: { [REPLAY_DONE_HEADER]: id } }));
      if (marks.length === 1) await bus.publish(topic, marks[0]!, { retain: true });
      else if (marks.length > 1) await bus.publishBatch(topic, marks, { retain: true });
    },
    async clear(entryIds) {
      if (entryIds.size === 0) return;
      await bus.remove(topic, (m) => entryIds.has(m.headers[REPLAY_DONE_HEADER] ?? ''));
    },
  };
}
