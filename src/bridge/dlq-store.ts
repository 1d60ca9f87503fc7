import { InvalidArgumentError } from '../jobs/errors.js';
import { DEFAULTS } from '../jobs/config.js';
import type { DeadLetter, DLQStore, Job } from '../jobs/types.js';
import { decodeJob } from '../headers/codec.js';
import { H } from '../headers/names.js';
import { formatRfc3339, parseRfc3339 } from '../headers/time.js';
import type { BrowsableBus, BrowsedMessage, EventBus, Message } from '../eventbus/types.js';

/** Options of {@link createBusDLQStore}. */
export interface BusDLQStoreOptions {
  /** DLQ name = queue + suffix. Default `.dlq`. */
  readonly dlqSuffix?: string;
  /** Most entries a replay or purge scans. Default 100 000. */
  readonly scanLimit?: number;
}

/** Header stamped on a replayed job. */
export const REPLAYED_AT_HEADER = 'job_replayed_at';

function idOf(m: BrowsedMessage): string {
  return m.headers[H.id] || m.position;
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
  const suffix = options.dlqSuffix ?? DEFAULTS.dlq.queueSuffix;
  const scanLimit = options.scanLimit ?? 100_000;

  function checkIds(ids: readonly string[]): Set<string> {
    if (!Array.isArray(ids) || ids.some((i) => typeof i !== 'string')) {
      throw new InvalidArgumentError('ids must be an array of job id strings');
    }
    return new Set(ids);
  }

  return {
    async listDLQ(queue, limit) {
      const entries = await bus.browse(queue + suffix, limit);
      return entries.map((m) => toDeadLetter(m, queue));
    },

    async replayDLQ(queue, ids) {
      const wanted = checkIds(ids);
      const entries = (await bus.browse(queue + suffix, scanLimit)).filter((m) => wanted.has(idOf(m)));
      const done = new Set<string>();
      // Oldest first, so replayed jobs keep their original relative order.
      for (const m of entries.reverse()) {
        const headers: Record<string, string> = { ...m.headers };
        const target = headers[H.originalQueue] || queue;
        delete headers[H.failureReason];
        delete headers[H.failedAt];
        delete headers[H.originalQueue];
        headers[H.attempt] = '0';
        const now = formatRfc3339(new Date(), 'runAt');
        headers[H.runAt] = now;
        headers[REPLAYED_AT_HEADER] = now;
        const replay: Message = { ...(m.key !== undefined && { key: m.key }), value: m.value, headers };
        await bus.publish(target, replay);
        done.add(m.position);
        // Removed one by one: an interrupted replay leaves only unreplayed entries behind.
        await bus.remove(queue + suffix, (x) => x.position === m.position);
      }
      return done.size;
    },

    async purgeDLQ(queue, ids) {
      const wanted = ids === undefined ? undefined : checkIds(ids);
      return bus.remove(queue + suffix, (m) => wanted === undefined || wanted.has(idOf(m)));
    },
  };
}
