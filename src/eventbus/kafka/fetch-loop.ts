/**
 * The fetch side of a subscription: what happens to a fetched batch of one partition, and the
 * span pause. Records are admitted in offset order while the partition is ASSIGNED and ready
 * (partition.ts); a record refetched after a rebalance is skipped, one the commit metadata marks
 * settled is tracked as settled and never delivered, and at the in-flight cap the batch waits
 * (flow-control.ts). Records not advanced are fetched again.
 *
 * Span pause (per partition): ps.spanPaused is set, and the partition paused on the consumer,
 * when admitting a record would put more than maxOffsetSpan offsets between it and the oldest
 * unsettled one; {@link FetchLoop.headMoved} resumes it once a refill's worth (an eighth) of
 * the span is free again.
 */
import type { Committer } from './commits.js';
import type { Dispatcher } from './dispatcher.js';
import type { FlowControl } from './flow-control.js';
import type { PartitionState } from './partition.js';
import type { BatchControl, ConsumedBatch, GroupConsumerPort } from './port.js';

/** What the fetch loop needs. */
export interface FetchLoopDeps {
  readonly topic: string;
  readonly maxInFlight: number;
  /** Most offsets from the oldest unsettled to the newest admitted one per partition. */
  readonly maxSpan: number;
  readonly partitions: ReadonlyMap<number, PartitionState>;
  readonly dispatcher: Pick<Dispatcher, 'admit' | 'unsettled'>;
  readonly committer: Pick<Committer, 'request'>;
  readonly flow: Pick<FlowControl, 'waitForCapacity'>;
  /** The current group member. */
  readonly consumer: () => GroupConsumerPort;
  readonly admitting: (control: BatchControl, ps: PartitionState) => boolean;
  readonly isClosing: () => boolean;
}

/** The fetch side of one subscription. */
export interface FetchLoop {
  /** Admit the records of a fetched batch (the driver's eachBatch). */
  onBatch(batch: ConsumedBatch, control: BatchControl): Promise<void>;
  /** The committable offset of `ps` moved: commit, and resume a span-paused partition once there is room. */
  headMoved(ps: PartitionState): void;
}

/** Create the fetch loop. */
export function createFetchLoop(d: FetchLoopDeps): FetchLoop {
  // Hysteresis: a span-paused partition resumes once a refill's worth of offsets is free.
  const spanRefill = Math.max(1, Math.floor(d.maxSpan / 8));

  /** The partition state a batch is for, once its committed offset was read; undefined = drop the batch. */
  const readyState = async (partition: number): Promise<PartitionState | undefined> => {
    let ps = d.partitions.get(partition);
    if (ps && !ps.ready && ps.loading) {
      await ps.loading; // the committed offset and metadata decide what to skip
      ps = d.partitions.get(partition);
    }
    return ps && ps.ready && ps.status === 'assigned' && !d.isClosing() ? ps : undefined;
  };

  const onBatch = async (batch: ConsumedBatch, control: BatchControl): Promise<void> => {
    const ps = await readyState(batch.partition);
    if (!ps) return;
    for (const r of batch.records) {
      if (!d.admitting(control, ps)) break;
      const next = ps.tracker.nextOffset();
      if (next !== undefined && r.offset < next) {
        // Refetched after a rebalance kept this partition: already tracked (running or settled).
        control.advance(r.offset);
        continue;
      }
      if (ps.tracker.unsettled() > 0 && r.offset - ps.tracker.committable()! + 1 > d.maxSpan) {
        // Span bound: stop fetching this partition until its oldest unsettled offset settles
        // (headMoved resumes it). Records not advanced are fetched again.
        ps.spanPaused = true;
        d.consumer().pause(d.topic, [ps.partition]);
        break;
      }
      if (ps.skip?.has(r.offset)) {
        // Settled before a crash or rebalance (commit metadata): not delivered again.
        if (ps.tracker.add(r.offset, true)) d.committer.request();
        control.advance(r.offset);
        continue;
      }
      // Hard cap: wait for a free slot (flow-control.ts); records not admitted are fetched again.
      if (d.dispatcher.unsettled() >= d.maxInFlight && !(await d.flow.waitForCapacity(control, ps))) break;
      ps.tracker.add(r.offset);
      control.advance(r.offset);
      d.dispatcher.admit(ps, r);
    }
    if (ps.skip && ps.tracker.nextOffset() !== undefined && ps.tracker.nextOffset()! >= ps.skip.end) ps.skip = undefined;
    // kafkajs heartbeats only between fetches and when asked inside eachBatch: ask.
    await control.heartbeat();
  };

  return {
    onBatch,
    headMoved(ps) {
      d.committer.request();
      if (ps.spanPaused && ps.tracker.span() <= d.maxSpan - spanRefill) {
        ps.spanPaused = false;
        d.consumer().resume(d.topic, [ps.partition]);
      }
    },
  };
}
