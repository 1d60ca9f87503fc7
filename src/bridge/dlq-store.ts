/**
 * The DLQ store over a bus that can browse its topics (memory, Kafka, NATS): list, replay and
 * purge dead-letter entries.
 *
 * Entries are named by a hash of their content ({@link entryIdOf}), so an id stays the same
 * across listings and across Kafka's re-appends; byte-identical copies count as one entry.
 *
 * Crash-safe replay. Each DLQ has a ledger, a retained topic `<dlq>.replayed` (dlq-ledger.ts).
 * A replay (1) reads the DLQ and the ledger once; (2) for the matched entries not marked done,
 * browses each target queue once (its newest `targetScan` messages) for copies carrying
 * `job_replay_of: <entryId>`, and marks those done in the ledger: they were published by a run
 * that died before its mark; (3) publishes the rest oldest first, each with `dedupId` = entryId,
 * appending the ledger marks as soon as the copies are acknowledged (rate-limited: one copy at a
 * time; unlimited: batches of `batchSize` copies to one queue, then their marks in one batch);
 * (4) removes every done entry from the DLQ in ONE `bus.remove` (Kafka: one pass over the
 * topic, whatever N is); (5) drops the ledger marks of what was removed. A run killed at any
 * point loses nothing (an entry leaves the DLQ only after its copy is stored), and a rerun
 * publishes no entry whose mark or copy it finds. Listings hide entries marked done, so an
 * entry replayed before the cut (Kafka) never shows again.
 *
 * Residual window: a crash after the broker stored copies and before their ledger marks (one
 * copy, or one batch), when a copy is no longer among the newest `targetScan` messages of its
 * queue at the rerun (NATS deletes consumed messages; any bus under heavy traffic) and, on
 * NATS, the rerun comes after the stream's duplicate window (which otherwise drops the
 * re-publish; memory and Kafka have none): such an entry runs twice. Two replays of the same
 * DLQ at once are not coordinated. An aborted replay removes what it replayed, then rejects
 * with the signal's reason.
 */
import { ValidationError } from '../errors.js';
import type { DLQEntry, DLQFilter, DLQStore } from '../jobs/types.js';
import { dlqNameOf, queueNamesOf, type QueueNames } from '../jobs/queue-names.js';
import type { BrowsableBus, BrowsedMessage, EventBus } from '../eventbus/types.js';
import { entryIdOf, REPLAY_OF_HEADER, replayCopy, toEntry } from './dlq-entry.js';
import { checkFilter, checkListOptions, checkProgress, checkReplayOptions, cursorAfter, isAfter, matches, newestFirst } from './dlq-filter.js';
import { replayLedger, type ReplayLedger } from './dlq-ledger.js';

/** Options of {@link createBusDLQStore}. */
export interface BusDLQStoreOptions {
  /** How DLQs are named: the same as the bridge's. Default: queue + `.dlq`. */
  readonly names?: QueueNames;
  /** Most entries a listing, replay or purge reads (and ledger marks). Default 100 000. */
  readonly scanLimit?: number;
  /** Newest messages of each target queue a replay reads to find copies of an interrupted run. Default 1 000. */
  readonly targetScan?: number;
  /** Copies an unlimited replay publishes per batch (then their ledger marks in one batch); at most `targetScan`. Default 100. */
  readonly batchSize?: number;
}

/** A DLQ message with its listing form. */
interface Scanned {
  readonly message: BrowsedMessage;
  readonly entry: DLQEntry;
}

/** One read of a DLQ and its ledger. */
interface Snapshot {
  readonly dlq: string;
  readonly ledger: ReplayLedger;
  /** Distinct entries, newest first as browsed. */
  readonly entries: readonly Scanned[];
  /** Entry ids marked done in the ledger. */
  readonly done: ReadonlySet<string>;
  /** The DLQ was read to its end (not cut by the scan limit). */
  readonly complete: boolean;
}

/** Wait `ms`, or reject when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A {@link DLQStore} over a bus that can browse its topics. See the file comment for the
 * crash-safe replay and its ledger.
 */
export function createBusDLQStore(bus: EventBus & BrowsableBus, options: BusDLQStoreOptions = {}): DLQStore {
  const names = queueNamesOf(options.names);
  const scanLimit = options.scanLimit ?? 100_000;
  const targetScan = options.targetScan ?? 1_000;
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 100, targetScan));

  /** The newest `limit` messages of the queue's DLQ (default `scanLimit`) and its ledger. */
  async function snapshot(queue: string, limit = scanLimit): Promise<Snapshot> {
    if (typeof queue !== 'string' || queue === '') throw new ValidationError('queue', 'must be a non-empty string');
    const dlq = dlqNameOf(names, queue);
    const ledger = replayLedger(bus, dlq);
    // One after the other: concurrent admin reads of fresh topics race in some clients (kafkajs).
    const messages = await bus.browse(dlq, limit);
    const done = await ledger.read(scanLimit);
    const seen = new Set<string>();
    const entries: Scanned[] = [];
    for (const message of messages) {
      const entryId = entryIdOf(message);
      if (seen.has(entryId)) continue;
      seen.add(entryId);
      entries.push({ message, entry: toEntry(message, queue, entryId) });
    }
    return { dlq, ledger, entries, done, complete: messages.length < limit };
  }

  /**
   * Remove the entries `ids` (and those the ledger marks done) from the DLQ in one bus.remove,
   * then drop the ledger marks no longer needed; `onSelect` sees each entry id removed.
   */
  async function removeAndSettle(snap: Snapshot, ids: ReadonlySet<string>, markedNow: ReadonlySet<string>, onSelect?: (entryId: string) => void): Promise<void> {
    const present = new Set(snap.entries.map((s) => s.entry.entryId));
    const finished = new Set([...snap.done].filter((id) => present.has(id)));
    for (const id of ids) finished.add(id);
    if (finished.size > 0) {
      await bus.remove(snap.dlq, (m) => {
        const id = entryIdOf(m);
        if (!finished.has(id)) return false;
        onSelect?.(id);
        return true;
      });
    }
    // Marks of removed entries, and (when the whole DLQ was read) of entries gone before.
    const stale = new Set([...finished].filter((id) => snap.done.has(id) || markedNow.has(id)));
    if (snap.complete) for (const id of snap.done) if (!present.has(id)) stale.add(id);
    await snap.ledger.clear(stale);
  }

  /** Entry ids among `pending` whose copies are among the newest messages of their queue. */
  async function copiesFound(pending: readonly Scanned[]): Promise<Set<string>> {
    const wanted = new Set(pending.map((s) => s.entry.entryId));
    const found = new Set<string>();
    if (!wanted.size || targetScan <= 0) return found;
    for (const target of new Set(pending.map((s) => s.entry.originalQueue))) {
      for (const m of await bus.browse(target, targetScan)) {
        const of = m.headers[REPLAY_OF_HEADER];
        if (of !== undefined && wanted.has(of)) found.add(of);
      }
    }
    return found;
  }

  const store: DLQStore = {
    async list(queue, listOptions) {
      const o = checkListOptions(listOptions);
      // Read the newest messages only as far as the page needs: a window that grows fourfold
      // until it holds one entry past the page or the whole DLQ (a first page of a large DLQ
      // costs a few hundred reads, not the whole queue; every page at most ~1.3x its depth).
      const most = Math.max(scanLimit, o.limit + 1);
      for (let window = Math.min(most, Math.max(256, 2 * (o.limit + 1))); ; window = Math.min(most, window * 4)) {
        const snap = await snapshot(queue, window);
        const visible = snap.entries
          .map((s) => s.entry)
          .filter((e) => !snap.done.has(e.entryId) && matches(e, o.filter) && (!o.cursor || isAfter(e, o.cursor)))
          .sort(newestFirst);
        if (visible.length <= o.limit && !snap.complete && window < most) continue;
        const entries = visible.slice(0, o.limit);
        return visible.length > o.limit ? { entries, nextCursor: cursorAfter(entries[entries.length - 1]!) } : { entries };
      }
    },

    async replay(queue, selection, replayOptions) {
      const f = checkFilter(selection);
      const o = checkReplayOptions(replayOptions);
      const snap = await snapshot(queue);
      const matched = snap.entries.filter((s) => matches(s.entry, f));
      const pending = matched.filter((s) => !snap.done.has(s.entry.entryId));
      // Copies a run that died before its ledger mark left in the target queues: marked now.
      const found = await copiesFound(pending);
      if (found.size) await snap.ledger.mark([...found]);
      const already = matched.length - pending.length + found.size;
      const todo = pending.filter((s) => !found.has(s.entry.entryId)).sort((a, b) => newestFirst(b.entry, a.entry));
      const replayedIds: string[] = [];
      const total = matched.length;
      o.onProgress?.({ done: already, total });
      // Rate-limited: one copy at a time. Unlimited: batches of copies to one queue, then their marks.
      const batch = o.spacingMs > 0 ? 1 : batchSize;
      let next = Date.now();
      let aborted = false;
      for (let i = 0; i < todo.length; ) {
        if (o.signal?.aborted) {
          aborted = true;
          break;
        }
        if (o.spacingMs > 0) {
          const wait = next - Date.now();
          next = Math.max(next, Date.now()) + o.spacingMs;
          try {
            await pause(wait, o.signal);
          } catch {
            aborted = true;
            break;
          }
        }
        const target = todo[i]!.entry.originalQueue;
        let j = i + 1;
        while (j < todo.length && j - i < batch && todo[j]!.entry.originalQueue === target) j++;
        const chunk = todo.slice(i, j);
        const ids = chunk.map((s) => s.entry.entryId);
        const copies = chunk.map((s) => replayCopy(s.message, s.entry.entryId));
        if (copies.length === 1) await bus.publish(target, copies[0]!, { dedupId: ids[0]! });
        else await bus.publishBatch(target, copies, { dedupIds: ids });
        await snap.ledger.mark(ids);
        replayedIds.push(...ids);
        o.onProgress?.({ done: already + replayedIds.length, total });
        i = j;
      }
      const done = new Set([...replayedIds, ...found]);
      await removeAndSettle(snap, done, done);
      if (aborted) throw o.signal!.reason;
      return { matched: total, replayed: replayedIds.length, alreadyReplayed: already, replayedIds };
    },

    async purge(queue, selection, purgeOptions) {
      const f = checkFilter(selection);
      const onProgress = checkProgress((purgeOptions as { onProgress?: unknown } | undefined)?.onProgress);
      const snap = await snapshot(queue);
      const ids = new Set(snap.entries.filter((s) => !snap.done.has(s.entry.entryId) && matches(s.entry, f)).map((s) => s.entry.entryId));
      const total = ids.size;
      onProgress?.({ done: 0, total });
      const purged = new Set<string>();
      await removeAndSettle(snap, ids, new Set(), (id) => {
        if (!ids.has(id) || purged.has(id)) return;
        purged.add(id);
        onProgress?.({ done: purged.size, total });
      });
      return { matched: total, purged: purged.size };
    },

    async listDLQ(queue, limit) {
      if (limit === 0) return [];
      const page = await store.list(queue, { limit });
      return [...page.entries];
    },

    async replayDLQ(queue, ids) {
      return (await store.replay(queue, { ids } as DLQFilter)).replayed;
    },

    async purgeDLQ(queue, ids) {
      return (await store.purge(queue, ids === undefined ? {} : { ids })).purged;
    },
  };
  return store;
}
