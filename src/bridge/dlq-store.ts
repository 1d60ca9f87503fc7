import { InvalidArgumentError } from '../errors.js';
import { dlqNameOf, queueNamesOf, type QueueNames } from '../jobs/queue-names.js';
import type { DeadLetter, DLQStore, Job } from '../jobs/types.js';
import { decodeJob } from '../headers/codec.js';
import { H, REPLAYED_AT_HEADER } from '../headers/names.js';
import { formatRfc3339, parseRfc3339 } from '../headers/time.js';
import type { BrowsableBus, BrowsedMessage, EventBus, Message } from '../eventbus/types.js';

/** Options of {@link createBusDLQStore}. */
export interface BusDLQStoreOptions {
  /** How DLQs are named: the same as the bridge's. Default: queue + `.dlq`. */
  readonly names?: QueueNames;
  /** Most entries a replay or purge scans. Default 100 000. */
  readonly scanLimit?: number;
}

function idOf(m: BrowsedMessage): string {
  return m.headers[H.id] || m.position;
}

/**
 * What identifies one dead-letter entry across browses: its job id with the time and reason
 * of its failure (a job dead-lettered twice has two entries), else its broker position.
 */
function identityOf(m: BrowsedMessage): string {
  const id = m.headers[H.id];
  if (!id) return `position:${m.position}`;
  return `${id}\u0000${m.headers[H.attempt] ?? ''}\u0000${m.headers[H.failedAt] ?? ''}\u0000${m.headers[H.failureReason] ?? ''}`;
}

/** The copy of a dead letter published back to its queue: attempt 0, due now, failure headers dropped. */
function replayCopy(m: BrowsedMessage): Message {
  const headers: Record<string, string> = { ...m.headers };
  delete headers[H.failureReason];
  delete headers[H.failedAt];
  delete headers[H.originalQueue];
  headers[H.attempt] = '0';
  const now = formatRfc3339(new Date(), 'runAt');
  headers[H.runAt] = now;
  headers[REPLAYED_AT_HEADER] = now;
  return { ...(m.key !== undefined && { key: m.key }), value: m.value, headers };
}

function toDeadLetter(m: BrowsedMessage, queue: string): DeadLetter {
  let job: Job;
  try {
    job = decodeJob(m, queue);
  } catch {
    // A poison message: show what there is; its bytes and headers are intact in the DLQ.
    job = {
      id: idOf(m),
      name: m.headers[H.name] || '(undecodable)',
      queue,
      payload: m.value,
      headers: { ...m.headers },
      runAt: m.publishedAt,
      attempt: 0,
      maxAttempts: 0,
      createdAt: m.publishedAt,
    };
  }
  let failedAt = m.publishedAt;
  try {
    if (m.headers[H.failedAt]) failedAt = parseRfc3339(m.headers[H.failedAt]!, H.failedAt);
  } catch {
    /* keep the broker time */
  }
  return { job, originalQueue: m.headers[H.originalQueue] || queue, reason: m.headers[H.failureReason] ?? '', failedAt };
}

/**
 * A {@link DLQStore} over a bus that can browse its topics (the memory bus; Kafka and NATS
 * adapters that implement {@link BrowsableBus}). Replay publishes each selected entry back to
 * its original queue with the attempt reset, the failure headers dropped and
 * `job_replayed_at` added, then removes it from the DLQ.
 */
export function createBusDLQStore(bus: EventBus & BrowsableBus, options: BusDLQStoreOptions = {}): DLQStore {
  const names = queueNamesOf(options.names);
  const scanLimit = options.scanLimit ?? 100_000;

  function checkIds(ids: readonly string[]): Set<string> {
    if (!Array.isArray(ids) || ids.some((i) => typeof i !== 'string')) {
      throw new InvalidArgumentError('ids must be an array of job id strings');
    }
    return new Set(ids);
  }

  return {
    async listDLQ(queue, limit) {
      const entries = await bus.browse(dlqNameOf(names, queue), limit);
      return entries.map((m) => toDeadLetter(m, queue));
    },

    async replayDLQ(queue, ids) {
      const wanted = checkIds(ids);
      const entries = (await bus.browse(dlqNameOf(names, queue), scanLimit)).filter((m) => wanted.has(idOf(m)));
      const replayed = new Set<string>();
      // Oldest first, so replayed jobs keep their original relative order. Each is published
      // before any is removed: an interrupted replay leaves duplicates behind, never a loss.
      for (const m of entries.reverse()) {
        await bus.publish(m.headers[H.originalQueue] || queue, replayCopy(m));
        replayed.add(identityOf(m));
      }
      // One removal for the whole replay (R4: not one full read of the DLQ per entry), by an
      // identity that survives the re-append some buses do when removing (not the position).
      if (replayed.size > 0) await bus.remove(dlqNameOf(names, queue), (x) => replayed.has(identityOf(x)));
      return replayed.size;
    },

    async purgeDLQ(queue, ids) {
      const wanted = ids === undefined ? undefined : checkIds(ids);
      return bus.remove(dlqNameOf(names, queue), (m) => wanted === undefined || wanted.has(idOf(m)));
    },
  };
}
