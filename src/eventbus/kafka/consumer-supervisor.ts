/**
 * Keeps a subscription's group member alive. kafkajs restarts its consumer after a retriable
 * crash by itself, but not after a non-retriable one (`restart: false` in its CRASH event): the
 * consumer then stays stopped for good. The supervisor re-creates it (a new member of the same
 * group) with exponential backoff, and reports the member as down from the crash until the group
 * assigns partitions to the (restarted or re-created) member again, so the bus health check can
 * fail meanwhile.
 */
import { describeError, UnavailableError } from '../../errors.js';
import type { KafkaBusLogger } from './options.js';
import type { GroupConsumerPort, GroupHandlers } from './port.js';

/** First wait before re-creating a consumer, ms (doubles per failed attempt). */
export const RECREATE_INITIAL_MS = 250;
/** Longest wait between re-creation attempts, ms. */
export const RECREATE_MAX_MS = 30_000;

/** What the supervisor needs. */
export interface ConsumerSupervisorSettings {
  readonly topic: string;
  readonly groupId: string;
  /** A new, not started consumer (a new group member). */
  readonly newConsumer: () => GroupConsumerPort;
  readonly logger: KafkaBusLogger | undefined;
}

/** A group member that comes back after a crash. */
export interface ConsumerSupervisor {
  /** Start the first consumer; rejects when it cannot start. */
  start(handlers: GroupHandlers): Promise<void>;
  /** The current consumer (replaced after a crash without restart). */
  current(): GroupConsumerPort;
  /** Why the member is down (crashed, not yet assigned again), or undefined when it is up. */
  down(): UnavailableError | undefined;
  /** Stop the current consumer and any re-creation under way. */
  stop(): Promise<void>;
}

/** Create a supervisor (nothing runs until start). */
export function createConsumerSupervisor(s: ConsumerSupervisorSettings): ConsumerSupervisor {
  let consumer = s.newConsumer();
  let handlers: GroupHandlers | undefined;
  let downSince: number | undefined;
  let downCause: unknown;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const where = { topic: s.topic, groupId: s.groupId };

  /** Handlers bound to one consumer: events of a replaced consumer are ignored. */
  const bind = (c: GroupConsumerPort, h: GroupHandlers): GroupHandlers => ({
    onBatch: (batch, control) => h.onBatch(batch, control),
    onAssigned(assignment, generation) {
      if (c !== consumer || stopped) return;
      if (downSince !== undefined) s.logger?.warn({ ...where, downMs: Date.now() - downSince }, 'kafka consumer is back in its group');
      downSince = undefined;
      downCause = undefined;
      attempt = 0;
      h.onAssigned(assignment, generation);
    },
    onRebalancing() {
      if (c === consumer && !stopped) h.onRebalancing();
    },
    ...(h.onRevoke ? { onRevoke: () => (c === consumer && !stopped ? h.onRevoke!() : Promise.resolve()) } : {}),
    onCrash(error, restarting) {
      if (c !== consumer || stopped) return;
      downSince ??= Date.now();
      downCause = error;
      h.onCrash(error, restarting);
      if (restarting) {
        s.logger?.warn({ ...where, err: describeError(error) }, 'kafka consumer crashed; the client restarts it');
        return;
      }
      s.logger?.error({ ...where, err: describeError(error) }, 'kafka consumer crashed and does not restart by itself; re-creating it');
      schedule();
    },
  });

  const schedule = (): void => {
    if (stopped || timer) return;
    const delay = Math.min(RECREATE_MAX_MS, RECREATE_INITIAL_MS * 2 ** attempt);
    attempt++;
    timer = setTimeout(() => {
      timer = undefined;
      void recreate();
    }, delay);
    timer.unref?.();
  };

  const recreate = async (): Promise<void> => {
    if (stopped || !handlers) return;
    const old = consumer;
    await old.stop().catch(() => undefined); // kafkajs already disconnected it; make sure
    if (stopped) return;
    const c = s.newConsumer();
    consumer = c;
    try {
      await c.start(bind(c, handlers));
      s.logger?.warn({ ...where, attempt }, 'kafka consumer re-created; waiting for its assignment');
    } catch (err) {
      downCause = err;
      s.logger?.error({ ...where, attempt, err: describeError(err) }, 'kafka consumer could not be re-created; trying again');
      await c.stop().catch(() => undefined);
      schedule();
    }
  };

  return {
    async start(h) {
      handlers = h;
      await consumer.start(bind(consumer, h));
    },
    current: () => consumer,
    down() {
      if (downSince === undefined) return undefined;
      const why = downCause instanceof Error ? downCause.message : String(downCause);
      return new UnavailableError(
        `kafka: the consumer of topic "${s.topic}" (group "${s.groupId}") is down since ${new Date(downSince).toISOString()}: ${why}`,
        { cause: downCause },
      );
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await consumer.stop();
    },
  };
}
