/**
 * One dead-letter message as the DLQ tools see it: its stable entry id (a hash of its content,
 * so the same across browses, buses and Kafka's re-appends), its listing form and its replay copy.
 */
import { createHash } from 'node:crypto';
import type { DeadLetter, DLQEntry, Job } from '../jobs/types.js';
import { decodeJob } from '../headers/codec.js';
import { H, REPLAYED_AT_HEADER } from '../headers/names.js';
import { formatRfc3339, parseRfc3339 } from '../headers/time.js';
import type { BrowsedMessage, Message } from '../eventbus/types.js';

/** Header of a replayed copy naming the DLQ entry it replays ({@link DLQEntry.entryId}). */
export const REPLAY_OF_HEADER = 'job_replay_of';

/** Characters of a payload preview. */
const PREVIEW_CHARS = 200;
/** Bytes of a binary payload's preview (base64 of them fits in {@link PREVIEW_CHARS}). */
const PREVIEW_BYTES = 144;

/**
 * The entry id of a dead-letter message: a hash of its key, headers and value. A job
 * dead-lettered twice has two entries (their failure headers differ); byte-identical copies
 * (e.g. left by an interrupted Kafka removal) are one entry.
 */
export function entryIdOf(m: Message): string {
  const h = createHash('sha256');
  const field = (s: string): void => {
    h.update(String(Buffer.byteLength(s)));
    h.update(':');
    h.update(s);
  };
  field(m.key ?? '\u0000');
  for (const k of Object.keys(m.headers).sort()) {
    field(k);
    field(m.headers[k]!);
  }
  h.update(`${m.value.byteLength}:`);
  h.update(m.value);
  return h.digest('hex').slice(0, 24);
}

/** The first characters of the payload as UTF-8, else `base64:` and its first bytes. */
export function payloadPreview(value: Uint8Array): string {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(value.subarray(0, PREVIEW_CHARS * 4));
    return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
  } catch {
    // Not UTF-8 (or cut inside a character: then the whole prefix is shown as bytes).
    const head = Buffer.from(value.subarray(0, PREVIEW_BYTES)).toString('base64');
    return `base64:${head}${value.byteLength > PREVIEW_BYTES ? '…' : ''}`;
  }
}

function fallbackJob(m: BrowsedMessage, queue: string): Job {
  // A poison message: show what there is; its bytes and headers are intact in the DLQ.
  return {
    id: m.headers[H.id] || m.position,
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

/** A browsed DLQ message as a {@link DeadLetter}. */
export function toDeadLetter(m: BrowsedMessage, queue: string): DeadLetter {
  let job: Job;
  try {
    job = decodeJob(m, queue);
  } catch {
    job = fallbackJob(m, queue);
  }
  let failedAt = m.publishedAt;
  try {
    if (m.headers[H.failedAt]) failedAt = parseRfc3339(m.headers[H.failedAt]!, H.failedAt);
  } catch {
    /* keep the broker time */
  }
  return { job, originalQueue: m.headers[H.originalQueue] || queue, reason: m.headers[H.failureReason] ?? '', failedAt };
}

/** A browsed DLQ message as a listed {@link DLQEntry}. */
export function toEntry(m: BrowsedMessage, queue: string, entryId = entryIdOf(m)): DLQEntry {
  const d = toDeadLetter(m, queue);
  return { ...d, entryId, headers: { ...m.headers }, payloadPreview: payloadPreview(m.value), attempt: d.job.attempt };
}

/**
 * The copy of a dead letter published back to its queue: attempt 0, due now, failure headers
 * dropped, `job_replayed_at` and {@link REPLAY_OF_HEADER} added.
 */
export function replayCopy(m: Message, entryId: string, now = new Date()): Message {
  const headers: Record<string, string> = { ...m.headers };
  delete headers[H.failureReason];
  delete headers[H.failedAt];
  delete headers[H.originalQueue];
  headers[H.attempt] = '0';
  const at = formatRfc3339(now, 'runAt');
  headers[H.runAt] = at;
  headers[REPLAYED_AT_HEADER] = at;
  headers[REPLAY_OF_HEADER] = entryId;
  return { ...(m.key !== undefined && { key: m.key }), value: m.value, headers };
}
