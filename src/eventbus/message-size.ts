import type { Message } from './types.js';

/** Bytes of a message as brokers count them against their size limit: value, key, header names and values. */
export function messageBytes(m: Message): number {
  let n = m.value.byteLength + Buffer.byteLength(m.key ?? '');
  for (const k of Object.keys(m.headers)) n += Buffer.byteLength(k) + Buffer.byteLength(m.headers[k]!);
  return n;
}

/**
 * Bytes of a message's header block as a broker that frames headers as `name: value\r\n` lines
 * counts them, with the key (which NATS carries in a header), for `EventBus.maxHeaderBytes`.
 */
export function headerBytes(m: Message): number {
  let n = Buffer.byteLength(m.key ?? '');
  for (const k of Object.keys(m.headers)) n += Buffer.byteLength(k) + Buffer.byteLength(m.headers[k]!) + 4;
  return n;
}
