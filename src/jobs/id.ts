import { randomFillSync } from 'node:crypto';

let lastMs = 0;
let seq = 0;
// Random bytes are drawn from a pool refilled in bulk: one crypto call per 512 ids instead of
// one per id (ids are made on the hot enqueue path).
const POOL_IDS = 512;
const pool = Buffer.alloc(16 * POOL_IDS);
let poolOffset = pool.length;
/** ASCII codes of the hex digits, and the 36 characters of an id written as bytes (one string made per id, not 20 concatenations). */
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const text = Buffer.alloc(36);

/**
 * A new UUIDv7: time-ordered (ms precision, monotonic within one process) so ids sort
 * by creation and index well, random enough to be unique across processes.
 */
export function newJobId(now: number = Date.now()): string {
  // Monotonic within a millisecond: a 12-bit counter in rand_a; on overflow borrow the next ms.
  if (now <= lastMs) {
    seq++;
    if (seq > 0xfff) {
      lastMs++;
      seq = 0;
    }
    now = lastMs;
  } else {
    lastMs = now;
    seq = 0;
  }
  if (poolOffset >= pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  // The id's 16 bytes are written in place in the pool (a subarray would cost a Buffer per id).
  const o = poolOffset;
  poolOffset += 16;
  pool.writeUIntBE(now, o, 6);
  pool[o + 6] = 0x70 | ((seq >> 8) & 0x0f);
  pool[o + 7] = seq & 0xff;
  pool[o + 8] = 0x80 | (pool[o + 8]! & 0x3f);
  let j = 0;
  for (let i = 0; i < 16; i++) {
    const v = pool[o + i]!;
    text[j++] = HEX_DIGITS[v >> 4]!;
    text[j++] = HEX_DIGITS[v & 15]!;
    if (i === 3 || i === 5 || i === 7 || i === 9) text[j++] = 45; // '-'
  }
  return text.toString('latin1', 0, 36);
}
