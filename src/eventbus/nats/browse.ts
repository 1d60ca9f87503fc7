/**
 * Browsing a stream newest first (`STREAM.MSG.GET` by sequence, `BROWSE_CHUNK` at a time,
 * skipping deleted sequences), and removing selected messages by sequence: the DLQ tools.
 * A topic without a stream has nothing to browse; browsing never creates one.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/nats-core';
import { InvalidArgumentError } from '../../errors.js';
import type { BrowsableBus, BrowsedMessage } from '../types.js';
import type { Provisioner, StreamRef } from './provision.js';
import { unavailable } from './unavailable.js';
import { storedHeaderBytes } from './refused-headers.js';
import { readMessage, readRefusedBlock } from './wire.js';

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
      let hdrs: MsgHdrs;
      try {
        hdrs = m.header;
      } catch {
        // A header line the client refuses (a foreign producer's): listed, never a failed browse.
        const { message } = readRefusedBlock(m.data, storedHeaderBytes(m), false);
        yield { ...message, position: `${ref.name}#${m.seq}`, publishedAt: m.time };
        continue;
      }
      const { message } = readMessage(m.data, hdrs);
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

/** What {@link createBrowsing} needs. */
export interface BrowseDeps {
  readonly jsm: JetStreamManager;
  readonly prov: Provisioner;
  /** Throws a ClosedError once the bus is closed. */
  assertOpen(): void;
}

/** The bus's {@link BrowsableBus} side. */
export function createBrowsing(d: BrowseDeps): BrowsableBus {
  return {
    async browse(topic, limit) {
      d.assertOpen();
      if (!Number.isInteger(limit) || limit < 0) throw new InvalidArgumentError(`limit must be an integer >= 0, got ${limit}`);
      const ref = await d.prov.existingStreamFor(topic);
      if (!ref || limit === 0) return [];
      return browseStream(d.jsm, ref, limit).catch((err: unknown) => {
        throw unavailable(`cannot browse queue "${topic}"`, err);
      });
    },

    async remove(topic, select) {
      d.assertOpen();
      if (typeof select !== 'function') throw new InvalidArgumentError('select must be a function');
      const ref = await d.prov.existingStreamFor(topic);
      if (!ref) return 0;
      return removeFromStream(d.jsm, ref, select).catch((err: unknown) => {
        throw unavailable(`cannot remove messages from queue "${topic}"`, err);
      });
    },
  };
}
