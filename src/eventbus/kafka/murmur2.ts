/**
 * Kafka's murmur2 key hash (the Java client's `Utils.murmur2`, which its DefaultPartitioner, kafkajs'
 * DefaultPartitioner and @platformatic/kafka's `compatibilityPartitioner` all use), in 32-bit
 * integer arithmetic. Both drivers' own implementations compute it in 64-bit emulation (BigInt,
 * long.js): several allocations per key, a few % of a producer's CPU. Same results, bit for bit
 * (test/kafka/pure.unit.test.ts compares them): a key lands on the same partition as before.
 */
import { Buffer } from 'node:buffer';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** murmur2 of the first `length` bytes of `data` as a signed 32-bit integer (Java's int). */
export function murmur2(data: Uint8Array, length = data.length): number {
  let h = SEED ^ length;
  const end = length & ~3;
  for (let i = 0; i < end; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  switch (length & 3) {
    case 3:
      h ^= data[end + 2]! << 16;
    // falls through
    case 2:
      h ^= data[end + 1]! << 8;
    // falls through
    case 1:
      h ^= data[end]!;
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The Java client's `toPositive(murmur2(bytes))`: the partition is this modulo the partition count. */
export function keyHash(data: Uint8Array): number {
  return murmur2(data) & 0x7fffffff;
}

// UTF-8 bytes of a string key are written here, not into a new Buffer per key.
let scratch = Buffer.allocUnsafe(256);

/** {@link keyHash} of a string key's UTF-8 bytes. */
export function stringKeyHash(key: string): number {
  if (key.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(key.length * 3);
  return murmur2(scratch, scratch.write(key, 0, 'utf8')) & 0x7fffffff;
}
