/**
 * A bus that delegates to another and simulates a crash: after a number of successful
 * publishes to chosen topics (a batch counts per message, and is stored up to the crash
 * point), or at a removal from one, every further call fails. For the
 * interrupted-replay cases of the DLQ tools.
 */
import { UnavailableError } from '../../errors.js';
import type { BrowsableBus, EventBus } from '../../eventbus/types.js';

/** Where {@link faultyBus} crashes. */
export interface CrashPlan {
  /** Publishes to topics for which this is true are counted. */
  readonly publishesTo?: (topic: string) => boolean;
  /** Successful counted publishes before the crash. */
  readonly after?: number;
  /** Crash at a removal from a topic for which this is true. */
  readonly removeFrom?: (topic: string) => boolean;
}

/** `inner` with the crash of `plan`: once crashed, every publish, browse and remove fails. */
export function faultyBus(inner: EventBus & BrowsableBus, plan: CrashPlan): EventBus & BrowsableBus & { readonly crashed: boolean } {
  let counted = 0;
  let crashed = false;
  const crash = (what: string): never => {
    crashed = true;
    throw new UnavailableError(`simulated crash at ${what}`);
  };
  const check = (what: string): void => {
    if (crashed) crash(what);
  };
  return {
    get crashed() {
      return crashed;
    },
    get maxMessageBytes() {
      return inner.maxMessageBytes;
    },
    get maxHeaderBytes() {
      return inner.maxHeaderBytes;
    },
    async publish(topic, message, options) {
      check(`publish to ${topic}`);
      if (plan.publishesTo?.(topic)) {
        if (counted >= (plan.after ?? 0)) crash(`publish to ${topic}`);
        counted++;
      }
      return inner.publish(topic, message, options);
    },
    async publishBatch(topic, messages, options) {
      check(`publish to ${topic}`);
      if (plan.publishesTo?.(topic)) {
        // The messages before the crash point are stored, the rest are not (a batch cut short).
        const room = Math.max(0, (plan.after ?? 0) - counted);
        if (room < messages.length) {
          const ids = options?.dedupIds?.slice(0, room);
          if (room > 0) await inner.publishBatch(topic, messages.slice(0, room), { ...options, ...(ids && { dedupIds: ids }) });
          counted += room;
          crash(`publish to ${topic}`);
        }
        counted += messages.length;
      }
      return inner.publishBatch(topic, messages, options);
    },
    subscribe: (topic, handler, options) => inner.subscribe(topic, handler, options),
    healthCheck: () => inner.healthCheck(),
    close: async () => undefined, // the inner bus is the test's
    async browse(topic, limit) {
      check(`browse of ${topic}`);
      return inner.browse(topic, limit);
    },
    async remove(topic, select) {
      check(`remove from ${topic}`);
      if (plan.removeFrom?.(topic)) crash(`remove from ${topic}`);
      return inner.remove(topic, select);
    },
  };
}
