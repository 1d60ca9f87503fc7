import type { Message } from '../eventbus/types.js';
import { H } from './names.js';
import { formatRfc3339 } from './time.js';

/**
 * Most UTF-8 bytes of a failure reason in a retry or DLQ copy. Together with the other
 * failure headers this bounds how much larger a copy is than its original (see
 * {@link FAILURE_HEADROOM_BYTES}), so a job that fits its broker can always be copied.
 */
export const MAX_REASON_BYTES = 1_024;

/** The reason kept when even a bounded copy was refused: short enough to fit where the original did. */
export const MINIMAL_REASON_BYTES = 96;

/**
 * Bytes a retry or DLQ copy may add to its original: the failure reason, the failure time,
 * the original queue name (at most `queueBytes`) and the header names themselves.
 */
export function failureHeadroomBytes(queueBytes: number): number {
  return MAX_REASON_BYTES + 64 + queueBytes + 64;
}

/** `text` cut to at most `maxBytes` UTF-8 bytes, on a character boundary, with an ellipsis when cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.byteLength <= maxBytes) return text;
  // Decoding a prefix cut inside a character yields U+FFFD at the end: drop it.
  let cut = bytes.subarray(0, Math.max(0, maxBytes - 3)).toString('utf8');
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/**
 * The dead-letter copy of a message: key, value and every header unchanged (so it can be
 * replayed byte for byte), plus `job_failure_reason`, `job_failed_at` and `job_original_queue`.
 */
export function deadLetterMessage(
  message: Message,
  originalQueue: string,
  reason: string,
  failedAt = new Date(),
  maxReasonBytes = MAX_REASON_BYTES,
): Message {
  return {
    ...(message.key !== undefined && { key: message.key }),
    value: message.value,
    headers: { ...message.headers, ...failureHeaders(reason, failedAt, maxReasonBytes), [H.originalQueue]: originalQueue },
  };
}

/** The headers of a retry copy: the last failure's reason and time. */
export function failureHeaders(reason: string, failedAt = new Date(), maxReasonBytes = MAX_REASON_BYTES): Record<string, string> {
  return {
    [H.failureReason]: truncateUtf8(reason, maxReasonBytes),
    [H.failedAt]: formatRfc3339(failedAt, 'failedAt'),
  };
}
