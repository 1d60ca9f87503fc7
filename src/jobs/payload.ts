import { DecodeError } from '../errors.js';
import type { Job } from './types.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A job's payload as the producer gave it: parsed JSON for `application/json` (the default of
 * object payloads), text for `text/*`, the bytes otherwise. Typed handlers of a
 * {@link defineJob} definition get their payload parsed and validated already; this is for
 * plain handlers. Throws a {@link DecodeError} when the bytes do not match the content type.
 */
export function payloadOf<T = unknown>(job: Job): T {
  const type = (job.contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !type.endsWith('+json') && !type.startsWith('text/')) return job.payload as T;
  let text: string;
  try {
    text = utf8.decode(job.payload);
  } catch (err) {
    throw new DecodeError('payload', `job ${job.id}: payload is not UTF-8 text (content type ${type})`, { cause: err });
  }
  if (type.startsWith('text/')) return text as T;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new DecodeError('payload', `job ${job.id}: payload is not valid JSON (content type ${type})`, { cause: err });
  }
}
