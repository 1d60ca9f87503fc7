import type { Message } from '../eventbus/types.js';
import { H } from './names.js';
import { formatRfc3339 } from './time.js';

/** Longest failure reason kept in a header; brokers limit header sizes. */
const MAX_REASON_LENGTH = 2_048;

/**
 * The dead-letter copy of a message: key, value and every header unchanged (so it can be
 * replayed byte for byte), plus `job_failure_reason`, `job_failed_at` and `job_original_queue`.
 */
export function deadLetterMessage(message: Message, originalQueue: string, reason: string, failedAt = new Date()): Message {
  return {
    ...(message.key !== undefined && { key: message.key }),
    value: message.value,
    headers: { ...message.headers, ...failureHeaders(reason, failedAt), [H.originalQueue]: originalQueue },
  };
}

/** The headers of a retry copy: the last failure's reason and time. */
export function failureHeaders(reason: string, failedAt = new Date()): Record<string, string> {
  return {
    [H.failureReason]: reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH - 1)}…` : reason,
    [H.failedAt]: formatRfc3339(failedAt, 'failedAt'),
  };
}
