/**
 * Settled offsets above the committed one, carried in the Kafka offset-commit metadata string
 * (Confluent Parallel Consumer's idea, `OffsetMapCodecManager`): after a crash or a rebalance,
 * the next owner skips records the previous one already settled instead of running them again.
 * Pure, no I/O.
 *
 * Format (version 1, ASCII only, so characters = bytes for the broker's
 * `offset.metadata.max.bytes`, default 4096):
 *
 *   jb1<kind>:<committed offset, base 36>:<payload, base64url without padding>
 *
 * - kind `b` (bitset): bit i (LSB first within byte i >> 3) set = offset committed + 1 + i is
 *   settled. Trailing zero bytes are dropped.
 * - kind `r` (run lengths): LEB128 varints of alternating runs starting at committed + 1:
 *   unsettled (may be 0), settled, unsettled, … The trailing unsettled run is dropped.
 *
 * The encoder picks the shorter kind. The committed offset inside the string ties the metadata
 * to the offset committed with it: metadata found next to another offset (an offset reset by a
 * tool, another client) is ignored. Anything that does not parse is ignored too: the records are
 * then delivered again (duplicates, never a loss). When the encoding would exceed the size
 * bound, the bitset is cut short: offsets past the cut count as unsettled (delivered again).
 */

/** The broker default of `offset.metadata.max.bytes`. */
export const KAFKA_DEFAULT_METADATA_MAX_BYTES = 4096;

const VERSION = 'jb1';
/** Longest header: `jb1b:` + 11 base-36 digits (2^53) + `:`. */
export const METADATA_HEADER_MAX_CHARS = VERSION.length + 2 + 11 + 1;

/**
 * Offsets (counted from committed + 1) a bitset can always describe within `maxChars`
 * (the worst case: no long runs).
 */
export function bitsThatFit(maxChars: number): number {
  const payloadChars = Math.max(0, maxChars - METADATA_HEADER_MAX_CHARS);
  return Math.floor((payloadChars * 3) / 4) * 8;
}

/** Settled offsets read back from metadata. */
export interface SettledOffsets {
  /** True when `offset` was recorded as settled. */
  has(offset: number): boolean;
  /** One past the highest offset recorded as settled. */
  readonly end: number;
  /** How many offsets are recorded as settled. */
  readonly count: number;
}

const b64len = (bytes: number): number => Math.ceil((bytes * 4) / 3);

function varint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

/**
 * Encode which of the `count` offsets after `committed` are settled (`isSettled(i)` for offset
 * committed + 1 + i), in at most `maxChars` characters. Returns '' when none is settled.
 */
export function encodeSettled(committed: number, count: number, isSettled: (i: number) => boolean, maxChars = KAFKA_DEFAULT_METADATA_MAX_BYTES): string {
  const bits = new Uint8Array(Math.ceil(count / 8));
  const runs: number[] = [];
  let run = 0;
  let runSettled = false; // the first run counts unsettled offsets
  let usedBytes = 0;
  for (let i = 0; i < count; i++) {
    const settled = isSettled(i);
    if (settled) {
      bits[i >> 3]! |= 1 << (i & 7);
      usedBytes = (i >> 3) + 1;
    }
    if (settled !== runSettled) {
      varint(runs, run);
      run = 0;
      runSettled = settled;
    }
    run++;
  }
  if (usedBytes === 0) return '';
  if (runSettled) varint(runs, run); // a trailing settled run; a trailing unsettled one is implied
  const head = (kind: string): string => `${VERSION}${kind}:${committed.toString(36)}:`;
  if (b64len(runs.length) < b64len(usedBytes) && head('r').length + b64len(runs.length) <= maxChars) {
    return head('r') + Buffer.from(runs).toString('base64url');
  }
  let bytes = Math.min(usedBytes, Math.floor(((maxChars - head('b').length) * 3) / 4));
  while (bytes > 0 && bits[bytes - 1] === 0) bytes--;
  if (bytes <= 0) return '';
  return head('b') + Buffer.from(bits.buffer, 0, bytes).toString('base64url');
}

/** Longest run-length payload decoded (guards against metadata written by something else). */
const MAX_DECODED_SPAN = 1 << 22;

/**
 * Read metadata written by {@link encodeSettled} for the offset `committed`; undefined when it
 * is empty, foreign, for another offset, or malformed.
 */
export function decodeSettled(metadata: string | null | undefined, committed: number): SettledOffsets | undefined {
  if (!metadata || !metadata.startsWith(VERSION)) return undefined;
  const m = /^jb1([br]):([0-9a-z]{1,11}):([A-Za-z0-9_-]*)$/.exec(metadata);
  if (!m) return undefined;
  if (parseInt(m[2]!, 36) !== committed) return undefined;
  const payload = Buffer.from(m[3]!, 'base64url');
  let bits: Uint8Array;
  if (m[1] === 'b') {
    bits = payload;
  } else {
    const ranges: [number, number][] = [];
    let pos = 0;
    let settled = false;
    let at = 0;
    let i = 0;
    while (i < payload.length) {
      let n = 0;
      let mul = 1;
      for (;;) {
        if (i >= payload.length || mul > 2 ** 49) return undefined; // truncated or absurd varint
        const b = payload[i++]!;
        n += (b & 0x7f) * mul;
        mul *= 0x80;
        if (b < 0x80) break;
      }
      if (settled) ranges.push([pos, n]);
      pos += n;
      if (pos > MAX_DECODED_SPAN) return undefined;
      settled = !settled;
      at++;
    }
    if (at === 0) return undefined;
    bits = new Uint8Array(Math.ceil(pos / 8));
    for (const [from, len] of ranges) for (let k = from; k < from + len; k++) bits[k >> 3]! |= 1 << (k & 7);
  }
  let count = 0;
  let end = committed + 1;
  for (let k = 0; k < bits.length * 8; k++) {
    if (bits[k >> 3]! & (1 << (k & 7))) {
      count++;
      end = committed + 2 + k;
    }
  }
  if (count === 0) return undefined;
  return {
    has(offset) {
      const k = offset - committed - 1;
      return k >= 0 && k < bits.length * 8 && (bits[k >> 3]! & (1 << (k & 7))) !== 0;
    },
    end,
    count,
  };
}
