/**
 * Browsing a stream newest first (`STREAM.MSG.GET` by sequence, `BROWSE_CHUNK` at a time,
 * skipping deleted sequences), and removing selected messages by sequence: the DLQ tools.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { BrowsedMessage } from '../types.js';
import type { StreamRef } from './provision.js';
import { readMessage } from './wire.js';

/** Parallel single-message reads while browsing. */
const BROWSE_CHUNK = 64;

/** The JetStream API error code of `err` (read by shape: the client module is loaded lazily by the bus). */
function apiCode(err: unknown): number | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
}

/** Stored messages of a stream, newest first, read `BROWSE_CHUNK` sequences at a time. */
export async function* newestFirst(jsm: JetStreamManager, ref: StreamRef): AsyncGenerator<BrowsedMessage> {
  const info = await jsm.streams.info(ref.name);
  const first = info.state.first_seq;
  for (let hi = info.state.last_seq; hi >= first && info.state.messages > 0; hi -= BROWSE_CHUNK) {
    const seqs: number[] = [];
    for (let s = hi; s > hi - BROWSE_CHUNK && s >= first; s--) seqs.push(s);
    const got = await Promise.all(
      seqs.map((seq) =>
        jsm.streams.getMessage(ref.name, { seq }).catch((err: unknown) => {
          if (apiCode(err) === 10037) return null; // deleted or purged
          throw err;
        }),
      ),
    );
    for (const m of got) {
      if (!m) continue;
      const { message } = readMessage(m.data, m.header);
      yield { ...message, position: `${ref.name}#${m.seq}`, publishedAt: m.time };
    }
  }
}

/** The newest `limit` messages of a stream. */
export async function browseStream(jsm: JetStreamManager, ref: StreamRef, limit: number): Promise<BrowsedMessage[]> {
  const out: BrowsedMessage[] = [];
  for await (const m of newestFirst(jsm, ref)) {
    out.push(m);
    if (out.length >= limit) break;
  }
  return out;
}

/** Delete the messages `select` picks; returns how many were deleted. */
export async function removeFromStream(jsm: JetStreamManager, ref: StreamRef, select: (m: BrowsedMessage) => boolean): Promise<number> {
  let removed = 0;
  for await (const m of newestFirst(jsm, ref)) {
    if (!select(m)) continue;
    const seq = Number(m.position.slice(m.position.lastIndexOf('#') + 1));
    const deleted = await jsm.streams.deleteMessage(ref.name, seq, false).catch((err: unknown) => {
      if (apiCode(err) === 10057 || apiCode(err) === 10037) return false; // gone meanwhile
      throw err;
    });
    if (deleted) removed++;
  }
  return removed;
}
