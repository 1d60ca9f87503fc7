/**
 * {@link BrowsableBus} on Kafka: `browse` reads the newest records, `remove` deletes selected
 * ones (for the DLQ tools).
 *
 * Kafka deletes prefixes only (DeleteRecords), so `remove` re-appends the unselected records
 * that precede the last selected one of a partition, then cuts the partition up to that one.
 * One call removes everything `select` picks, in one read of the topic (R4), chunked so memory
 * stays bounded:
 * - records are read `chunkRecords` at a time (all partitions together);
 * - an unselected record is held until a later selected record of its partition proves it a
 *   survivor (then it is re-appended at once) or the partition ends (then it stays where it is);
 * - when more than a partition's share of `chunkRecords` unselected records wait, they are let
 *   go and only their first offset is kept: if a selected record follows, that range is read a
 *   second time to re-append its survivors. Memory: one chunk plus the selected offsets.
 * Crash-safe: re-appends happen before the cut, so an interruption leaves duplicates, never a
 * loss. Re-appended records keep key, value, headers and timestamp, not their offset: select by
 * content (e.g. headers), never by position, across calls.
 */
import { ValidationError } from '../../errors.js';
import type { BrowsableBus, BrowsedMessage } from '../types.js';
import { setHeader } from '../header-record.js';
import type { AdminPort, KafkaClientPort, PartitionOffsets, PartitionRecord, ProduceRecord } from './port.js';
import type { SendFn } from './sender.js';
import { checkTopic } from './topics.js';
import { decodeKey, toBytes, toMessage, type RawHeaderValue } from './wire.js';

/** What browse and remove need from the bus. */
export interface BrowseDeps {
  readonly admin: () => Promise<AdminPort>;
  readonly client: KafkaClientPort;
  readonly send: SendFn;
  /** Most records read per round trip (and held in memory) by `remove`. */
  readonly chunkRecords: number;
  readonly timeoutMs: number;
  /** Wraps an error in the bus's UnavailableError. */
  readonly unavailable: (what: string, err: unknown) => Error;
}

/** The bus's browse and remove: the bus must be open and the topic a valid name. */
export function createBrowser(deps: BrowseDeps, assertOpen: () => void): BrowsableBus {
  return {
    async browse(topic, limit) {
      assertOpen();
      checkTopic(topic);
      return browseTopic(deps, topic, limit);
    },
    async remove(topic, select) {
      assertOpen();
      checkTopic(topic);
      if (typeof select !== 'function') throw new ValidationError('select', 'must be a function');
      return removeFromTopic(deps, topic, select);
    },
  };
}

/** A consumed record as a browsed message. */
export function toBrowsed(topic: string, r: PartitionRecord): BrowsedMessage {
  return { ...toMessage(r.key, r.value, r.headers), position: `${topic}/${r.partition}@${r.offset}`, publishedAt: new Date(r.timestamp) };
}

function rawHeaders(headers: Readonly<Record<string, RawHeaderValue>> | undefined): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    setHeader(out, k, last === null || last === undefined ? new Uint8Array(0) : typeof last === 'string' ? new TextEncoder().encode(last) : toBytes(last as Uint8Array));
  }
  return out;
}

function toProduce(r: PartitionRecord): ProduceRecord {
  return { key: decodeKey(r.key), value: toBytes(r.value), headers: rawHeaders(r.headers), timestamp: r.timestamp };
}

async function offsetsOf(deps: BrowseDeps, topic: string): Promise<PartitionOffsets[] | undefined> {
  try {
    const a = await deps.admin();
    if (!(await a.listTopics()).includes(topic)) return undefined;
    return await a.topicOffsets(topic);
  } catch (err) {
    throw deps.unavailable(`cannot read "${topic}"`, err);
  }
}

async function read(deps: BrowseDeps, topic: string, ranges: { partition: number; from: number; to: number }[]): Promise<PartitionRecord[]> {
  try {
    return await deps.client.readRanges(topic, ranges, deps.timeoutMs);
  } catch (err) {
    throw deps.unavailable(`cannot read "${topic}"`, err);
  }
}

/** The newest `limit` records of `topic`, newest first. */
export async function browseTopic(deps: BrowseDeps, topic: string, limit: number): Promise<BrowsedMessage[]> {
  if (!Number.isInteger(limit) || limit < 0) throw new ValidationError('limit', 'must be an integer >= 0');
  if (limit === 0) return [];
  const offsets = await offsetsOf(deps, topic);
  if (!offsets) return [];
  const ranges = offsets.map((o) => ({ partition: o.partition, from: Math.max(o.low, o.high - limit), to: o.high })).filter((r) => r.to > r.from);
  if (!ranges.length) return [];
  const records = await read(deps, topic, ranges);
  records.sort((x, y) => y.timestamp - x.timestamp || y.offset - x.offset);
  return records.slice(0, limit).map((r) => toBrowsed(topic, r));
}

interface PartitionState {
  readonly partition: number;
  next: number;
  readonly high: number;
  held: PartitionRecord[];
  /** First offset of unselected records let go (memory bound); undefined while all are held. */
  spilledFrom: number | undefined;
  readonly selected: Set<number>;
  lastSelected: number;
}

type Reappend = (records: readonly PartitionRecord[]) => Promise<void>;

/** One partition's records of a chunk, in offset order: note the selected ones, hold or let go the rest. */
async function scanRecords(st: PartitionState, records: readonly PartitionRecord[], isSelected: (r: PartitionRecord) => boolean, holdCap: number, reappend: Reappend): Promise<void> {
  for (const r of records) {
    if (isSelected(r)) {
      st.selected.add(r.offset);
      st.lastSelected = r.offset;
      if (st.spilledFrom === undefined) {
        // Everything held precedes a selected record: survivors for sure.
        await reappend(st.held);
        st.held = [];
      }
    } else if (st.spilledFrom === undefined) {
      st.held.push(r);
      if (st.held.length > holdCap) {
        st.spilledFrom = st.held[0]!.offset;
        st.held = [];
      }
    }
  }
}

/** One pass over the topic, a chunk at a time (all open partitions together). */
async function scanTopic(deps: BrowseDeps, topic: string, states: readonly PartitionState[], isSelected: (r: PartitionRecord) => boolean, reappend: Reappend): Promise<void> {
  const holdCap = Math.max(1, Math.floor(deps.chunkRecords / states.length));
  for (;;) {
    const open = states.filter((st) => st.next < st.high);
    if (!open.length) return;
    const share = Math.max(1, Math.floor(deps.chunkRecords / open.length));
    const ranges = open.map((st) => ({ partition: st.partition, from: st.next, to: Math.min(st.high, st.next + share) }));
    const records = await read(deps, topic, ranges);
    const byPartition = new Map<number, PartitionRecord[]>();
    for (const r of records) {
      const list = byPartition.get(r.partition) ?? [];
      list.push(r);
      byPartition.set(r.partition, list);
    }
    for (const [i, st] of open.entries()) {
      const list = (byPartition.get(st.partition) ?? []).sort((x, y) => x.offset - y.offset);
      await scanRecords(st, list, isSelected, holdCap, reappend);
      st.next = ranges[i]!.to; // gaps (compacted, transaction markers) are simply absent
    }
  }
}

/** Re-append the survivors let go for memory's sake (read their range again), then cut the partition; returns how many were removed. */
async function cutPartition(deps: BrowseDeps, topic: string, st: PartitionState, reappend: Reappend): Promise<number> {
  if (st.lastSelected < 0) return 0;
  if (st.spilledFrom !== undefined && st.spilledFrom < st.lastSelected) {
    for (let from = st.spilledFrom; from < st.lastSelected; ) {
      const to = Math.min(st.lastSelected, from + deps.chunkRecords);
      const chunk = (await read(deps, topic, [{ partition: st.partition, from, to }])).sort((x, y) => x.offset - y.offset);
      await reappend(chunk.filter((r) => !st.selected.has(r.offset)));
      from = to;
    }
  }
  try {
    await (await deps.admin()).deleteRecords(topic, st.partition, st.lastSelected + 1);
  } catch (err) {
    throw deps.unavailable(`cannot delete records of "${topic}" partition ${st.partition}`, err);
  }
  return st.selected.size;
}

/** Remove the records `select` picks; returns how many. See the file comment. */
export async function removeFromTopic(deps: BrowseDeps, topic: string, select: (m: BrowsedMessage) => boolean): Promise<number> {
  const offsets = await offsetsOf(deps, topic);
  if (!offsets) return 0;
  const states = offsets
    .filter((o) => o.high > o.low)
    .map<PartitionState>((o) => ({ partition: o.partition, next: o.low, high: o.high, held: [], spilledFrom: undefined, selected: new Set(), lastSelected: -1 }));
  if (!states.length) return 0;
  const reappend: Reappend = async (records) => {
    if (records.length) await deps.send(topic, records.map(toProduce));
  };
  await scanTopic(deps, topic, states, (r) => select(toBrowsed(topic, r)), reappend);
  let removed = 0;
  for (const st of states) removed += await cutPartition(deps, topic, st, reappend);
  return removed;
}
