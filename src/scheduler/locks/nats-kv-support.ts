/**
 * Helpers of the NATS KV lock provider: key encoding, error recognition, tokens and the
 * forward-only last-fired write.
 */
import type { KV } from '@nats-io/kv';
import { ConflictError, InvalidArgumentError } from '../../errors.js';

/**
 * KV keys allow `[-/_=.a-zA-Z0-9]` and no leading, trailing or double dot; lock keys carry
 * ISO times (`:`) and more. Everything but `[-_a-zA-Z0-9]` becomes `=XX` per UTF-8 byte, so
 * the encoding is injective and readable.
 */
export function encodeKvKey(key: string): string {
  let out = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[-_a-zA-Z0-9]/.test(ch) ? ch : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** True for JetStream's "wrong last sequence" (10071, 10164): a compare-and-set lost. */
export function isWrongSequence(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 10071 || code === 10164) return true;
  return err instanceof Error && /wrong last sequence/i.test(err.message);
}

/** The acquire's TTL (its bucket) from a token `<ttl ms>.<random>`. */
export function parseToken(token: string): number {
  const ttl = Number(token.split('.', 1)[0]);
  if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new InvalidArgumentError('not a NATS KV lock token');
  return ttl;
}

// Each retry reads a newer record; past this many the writers are pathological.
const MAX_ATTEMPTS = 50;

/** Writes `ms` under `key` unless the record already holds a later or equal tick. */
export async function recordForward(kv: KV, key: string, ms: number): Promise<void> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const entry = await kv.get(key);
    const live = entry?.operation === 'PUT';
    if (live && Number(entry.string()) >= ms) return;
    try {
      if (live) await kv.update(key, String(ms), entry.revision);
      else await kv.create(key, String(ms));
      return;
    } catch (err) {
      if (!isWrongSequence(err)) throw err;
    }
  }
  throw new ConflictError(`last-fired record "${key}" kept changing under ${MAX_ATTEMPTS} attempts`);
}
