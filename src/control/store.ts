/**
 * The control records of one consumer group on the bus itself: written with
 * `PublishOptions.retain` to the group's control topic, read with `BrowsableBus.browse` (newest
 * first) and folded (records.ts). No store other than the bus.
 */
import { InvalidArgumentError } from '../errors.js';
import type { BrowsableBus, EventBus } from '../eventbus/types.js';
import { CONTROL_WINDOW, controlTopicOf, encodeRecord, foldRecords, type ControlRecord, type FoldedRecord } from './records.js';

/** The control records of one group. */
export interface ControlStore {
  /** The control topic. */
  readonly topic: string;
  /** The group's queues with their winning record (paused or not). */
  read(): Promise<Map<string, FoldedRecord>>;
  /**
   * Record that `queue` is (`paused`) or is not paused, as the version after `current` (the
   * queue's record of a fresh {@link read}); returns the record written, or undefined when
   * `current` says so already (nothing written).
   */
  write(queue: string, paused: boolean, current: FoldedRecord | undefined): Promise<ControlRecord | undefined>;
  /** Publish `record` again, unchanged (same version): keeps it in the window and the retention. */
  refresh(record: ControlRecord): Promise<void>;
}

/** The control store of `group` on `bus`. */
export function createControlStore(bus: EventBus & BrowsableBus, group: string): ControlStore {
  const topic = controlTopicOf(group);
  const publish = (r: ControlRecord): Promise<void> => bus.publish(topic, encodeRecord(r), { retain: true });

  return {
    topic,
    async read() {
      return foldRecords(await bus.browse(topic, CONTROL_WINDOW), group);
    },
    async write(queue, paused, current) {
      if (typeof queue !== 'string' || queue.trim() === '') {
        throw new InvalidArgumentError(`queue must be a non-empty string, got ${JSON.stringify(queue)}`);
      }
      if ((current?.paused ?? false) === paused) return undefined;
      const record: ControlRecord = { queue, group, paused, version: (current?.version ?? 0) + 1, ...(paused && { pausedAt: new Date() }) };
      await publish(record);
      return record;
    },
    refresh: (record) => publish(record),
  };
}
