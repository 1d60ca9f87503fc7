/**
 * A NATS header block encoded once (wire.ts `encodeHeaders` builds it), in the shape of the
 * client's header set so `nc.publish()` takes it.
 */
import type { MsgHdrs } from '@nats-io/nats-core';

/**
 * A header block encoded once, handed to `nc.publish()` as its headers. The client's own header
 * set (`MsgHdrsImpl`) checks and canonicalises every name against every earlier one on each
 * `set` and re-encodes the whole block on publish: a tenth of a busy bus's CPU. The client
 * asks the headers it is given only for `encode()` (nats-core 3.x `publish`); the read
 * methods answer from the same pairs, and the block is read-only. test/nats/wire.unit.test.ts
 * checks the bytes against the client's own encoding.
 */
export class EncodedHeaders implements MsgHdrs {
  /** The block as text (`NATS/1.0\r\n…\r\n\r\n`, or empty for no headers). */
  private readonly text: string;
  /** The block as bytes. */
  private readonly bytes: Uint8Array;
  /** Names and values in order, read from `text` when first asked (never on the publish path). */
  private parsed: (readonly [string, string])[] | undefined;

  constructor(text: string, bytes: Uint8Array) {
    this.text = text;
    this.bytes = bytes;
  }

  private get pairs(): readonly (readonly [string, string])[] {
    this.parsed ??= this.text
      .split('\r\n')
      .slice(1)
      .filter((line) => line !== '')
      .map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon), line.slice(colon + 2)] as const;
      });
    return this.parsed;
  }

  /** The block as the client writes it to the socket. */
  encode(): Uint8Array {
    return this.bytes;
  }

  // The read side of MsgHdrs, answered from the pairs (nothing on the publish path calls it).

  /** Never an error status: this is an outgoing block. */
  get hasError(): boolean {
    return false;
  }

  get status(): string {
    return '';
  }

  get code(): number {
    return 0;
  }

  get description(): string {
    return '';
  }

  *[Symbol.iterator](): Iterator<[string, string[]]> {
    for (const [k, v] of this.pairs) yield [k, [v]];
  }

  get(k: string): string {
    return this.pairs.find(([n]) => n === k)?.[1] ?? '';
  }

  last(k: string): string {
    return this.get(k);
  }

  has(k: string): boolean {
    return this.pairs.some(([n]) => n === k);
  }

  keys(): string[] {
    return this.pairs.map(([n]) => n);
  }

  values(k: string): string[] {
    return this.pairs.filter(([n]) => n === k).map(([, v]) => v);
  }

  // The write side of MsgHdrs: refused, the bytes are final.

  /** Refused: read-only. */
  set(k: string): void {
    throw new TypeError(`encoded NATS headers are read-only (set ${k})`);
  }

  append(k: string): void {
    throw new TypeError(`encoded NATS headers are read-only (append ${k})`);
  }

  delete(k: string): void {
    throw new TypeError(`encoded NATS headers are read-only (delete ${k})`);
  }
}
