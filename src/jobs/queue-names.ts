/**
 * The one owner of the names jobbus derives from a queue name for its own use: the queue's
 * dead-letter queue. The jobs runtime (the bridge) publishes dead letters under `dlq(queue)`
 * and the DLQ store browses the same name, so both must be given the same {@link QueueNames}
 * (`createJobbus({ names })` passes one to both).
 *
 * Names a bus adapter derives for its own machinery (Kafka delay-tier topics, NATS stream and
 * relay names) are not made here: each adapter owns those in its own names module, because
 * they depend on what the broker allows, not on jobs.
 */
import { InvalidArgumentError } from '../errors.js';

/** How the dead-letter queue of a queue is named. */
export interface QueueNames {
  /** The dead-letter queue of `queue`; never `queue` itself. */
  dlq(queue: string): string;
  /** Whether `topic` is a name {@link QueueNames.dlq} makes (the DLQ of some queue). */
  isDlq(topic: string): boolean;
}

/** Checks an affix of a naming scheme: a non-blank string (an empty one would map a queue onto itself). */
function checkAffix(kind: 'suffix' | 'prefix', affix: unknown): string {
  if (typeof affix !== 'string' || affix.trim() === '') {
    throw new InvalidArgumentError(`a DLQ name ${kind} must be a non-blank string (a queue must not be its own DLQ), got ${JSON.stringify(affix)}`);
  }
  return affix;
}

/** DLQ = queue + `suffix` (default `.dlq`, so `orders` → `orders.dlq`). */
export function suffixQueueNames(suffix = '.dlq'): QueueNames {
  const s = checkAffix('suffix', suffix);
  return Object.freeze({
    dlq: (queue: string) => queue + s,
    isDlq: (topic: string) => topic.length > s.length && topic.endsWith(s),
  });
}

/** DLQ = `prefix` + queue (e.g. `prefixQueueNames('dlq.')`: `orders` → `dlq.orders`). */
export function prefixQueueNames(prefix: string): QueueNames {
  const p = checkAffix('prefix', prefix);
  return Object.freeze({
    dlq: (queue: string) => p + queue,
    isDlq: (topic: string) => topic.length > p.length && topic.startsWith(p),
  });
}

/** The default naming: DLQ = queue + `.dlq`. */
export const DEFAULT_QUEUE_NAMES: QueueNames = suffixQueueNames('.dlq');

/**
 * `names` if it is a usable {@link QueueNames} (both functions present), else an
 * InvalidArgumentError; `undefined` gives {@link DEFAULT_QUEUE_NAMES}. For factories that take
 * names from users.
 */
export function queueNamesOf(names: QueueNames | undefined): QueueNames {
  if (names === undefined) return DEFAULT_QUEUE_NAMES;
  if (typeof names !== 'object' || names === null || typeof names.dlq !== 'function' || typeof names.isDlq !== 'function') {
    throw new InvalidArgumentError('names must be a QueueNames ({ dlq(queue), isDlq(topic) }), e.g. suffixQueueNames(".dlq") or prefixQueueNames("dlq.")');
  }
  return names;
}

/**
 * The DLQ of `queue` under `names`, refusing a custom scheme that maps a queue onto itself
 * (its dead letters would be consumed again as jobs) or to a blank name.
 */
export function dlqNameOf(names: QueueNames, queue: string): string {
  const dlq = names.dlq(queue);
  if (typeof dlq !== 'string' || dlq.trim() === '' || dlq === queue) {
    throw new InvalidArgumentError(`names.dlq("${queue}") must be a non-blank name other than the queue itself, got ${JSON.stringify(dlq)}`);
  }
  return dlq;
}
