/**
 * Header blocks the NATS client refuses to parse (wire.ts `readRefusedBlock` reads such a message
 * as poison, never a reason to stop the connection's reader).
 */
import type { MsgHdrs } from '@nats-io/nats-core';

/**
 * A header block the client refuses, split as the client splits it (lossy UTF-8, CRLF lines after
 * the status line, name up to the first colon, value trimmed, lines without a colon ignored):
 * the lines it would accept (name passes `isName`, value without CR or LF) as a header set for
 * `readMessage`, and the others' names, quoted (so they are printable). Without the raw block,
 * no header and one refusal.
 */
export function splitRefusedBlock(raw: Uint8Array | undefined, isName: (name: string) => boolean): { headers: MsgHdrs; refused: string[] } {
  const pairs = new Map<string, string>();
  const refused: string[] = [];
  if (raw === undefined) refused.push('(header block unreadable)');
  else {
    for (const line of new TextDecoder().decode(raw).split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1).trim();
      if (!isName(name) || /[\r\n]/.test(value)) refused.push(JSON.stringify(name));
      else if (!pairs.has(name)) pairs.set(name, value);
    }
  }
  // What readMessage reads of a header set: its names and each one's first value.
  const headers = { keys: () => [...pairs.keys()], get: (name: string) => pairs.get(name) ?? '' } as unknown as MsgHdrs;
  return { headers, refused };
}

/**
 * The raw header block of a stored message read through the stream API (`getMessage`), from the
 * client's internals (`smr.message.hdrs`, base64); undefined if they change shape.
 */
export function storedHeaderBytes(m: object): Uint8Array | undefined {
  const hdrs = (m as { smr?: { message?: { hdrs?: unknown } } }).smr?.message?.hdrs;
  return typeof hdrs === 'string' ? Buffer.from(hdrs, 'base64') : undefined;
}
