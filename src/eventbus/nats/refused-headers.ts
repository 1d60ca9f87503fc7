/**
 * Reading a delivered header block the NATS client refuses to parse (see {@link readRefusedBlock}):
 * such a message is poison, never a reason to stop the connection's reader.
 */
import type { MsgHdrs } from '@nats-io/nats-core';
import { readMessage, type ReadMessage } from './wire.js';

/** A header name the client accepts: printable ASCII without a colon (nats-core's rule). */
function isClientHeaderName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 33 || c > 126 || c === 58) return false;
  }
  return true;
}

/**
 * {@link readMessage} of a block the client refuses: split as the client splits it (lossy UTF-8,
 * CRLF lines after the status line, name up to the first colon, value trimmed, lines without a
 * colon ignored); lines whose name or value the client refuses are left out and named (escaped,
 * so the name is printable) in `invalidHeaders`. Without the raw block, no header at all.
 */
export function readRefusedBlock(data: Uint8Array, raw: Uint8Array | undefined, keepDueAt: boolean): ReadMessage {
  const pairs = new Map<string, string>();
  const refused: string[] = [];
  if (raw === undefined) refused.push('(header block unreadable)');
  else {
    const lines = new TextDecoder().decode(raw).split('\r\n');
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (!line || colon < 0) continue;
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1).trim();
      if (!isClientHeaderName(name) || /[\r\n]/.test(value)) refused.push(JSON.stringify(name));
      else if (!pairs.has(name)) pairs.set(name, value);
    }
  }
  const headers = { keys: () => [...pairs.keys()], get: (name: string) => pairs.get(name) ?? '' } as unknown as MsgHdrs;
  const read = readMessage(data, headers, raw, keepDueAt);
  return { ...read, message: { ...read.message, invalidHeaders: [...(read.message.invalidHeaders ?? []), ...refused] } };
}

/**
 * The raw header block of a stored message read through the stream API (`getMessage`), from the
 * client's internals (`smr.message.hdrs`, base64); undefined if they change shape.
 */
export function storedHeaderBytes(m: object): Uint8Array | undefined {
  const hdrs = (m as { smr?: { message?: { hdrs?: unknown } } }).smr?.message?.hdrs;
  return typeof hdrs === 'string' ? Buffer.from(hdrs, 'base64') : undefined;
}
