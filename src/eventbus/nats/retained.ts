/**
 * Retained topics: streams that keep what was consumed (Limits retention, never cleaned up by
 * the janitor), so they can be browsed and replayed, e.g. DLQs.
 *
 * A topic is retained when its stream says so, not by its name: the stream's description is
 * `jobbus retained topic <topic>` when the stream was created for a publish with
 * `PublishOptions.retain` (or for a topic the bus's `retainTopic` names). Every process reads it
 * from the stream on lookup, so a subscriber, browser or janitor in another process, or after a
 * restart, treats the topic as retained too. (A description, not stream metadata: nats-server
 * 2.9 has no metadata field.)
 *
 * A stream created before its first retained publish (a subscriber or browser touched the topic
 * first) is marked retained by that publish: the description and the retained limits are
 * updated in place, both Limits retention. A WorkQueue stream cannot be: the server deletes what
 * is acked, and its retention policy cannot be changed.
 */
import type { Logger } from 'pino';
import type { JetStreamManager } from '@nats-io/jetstream';
import { ConflictError } from '../../errors.js';
import type { ResolvedNatsOptions } from './options.js';
import { nanos } from './protocol.js';

const MARK = 'jobbus retained topic ';

/** The description of a retained topic's stream. */
export function retainedDescription(topic: string): string {
  return MARK + topic;
}

/** True when a stream's description marks it as a retained topic's. */
export function isRetainedDescription(description: string | undefined): boolean {
  return description?.startsWith(MARK) ?? false;
}

/** A stream to mark as retained. */
export interface RetainTarget {
  readonly topic: string;
  /** Stream name. */
  readonly name: string;
  readonly workqueue: boolean;
}

/**
 * Mark an existing stream as retained (see the module comment); a no-op when another process
 * did already. Throws a {@link ConflictError} for a WorkQueue stream or under `provision: 'verify'`.
 */
export async function markRetained(jsm: JetStreamManager, ref: RetainTarget, opts: ResolvedNatsOptions, logger: Logger): Promise<void> {
  if (ref.workqueue) {
    throw new ConflictError(
      `queue "${ref.topic}" exists as a WorkQueue stream, which deletes what is consumed, so a publish with retain cannot keep its messages; delete stream ${ref.name}, or name the topic in retainTopic before it is created`,
    );
  }
  const info = await jsm.streams.info(ref.name);
  if (isRetainedDescription(info.config.description)) return;
  if (opts.provision === 'verify') {
    throw new ConflictError(`stream ${ref.name} of queue "${ref.topic}" exists but does not keep its messages, and provision is 'verify'`);
  }
  logger.warn(
    { topic: ref.topic, stream: ref.name },
    'topic existed before its first retained publish (a subscriber or browser created it): it keeps its messages from now on; what was consumed before may be gone',
  );
  const limits = opts.retainedLimits;
  await jsm.streams.update(ref.name, {
    description: retainedDescription(ref.topic),
    max_age: nanos(limits.maxAgeMs),
    max_msgs: limits.maxMsgs,
    max_bytes: limits.maxBytes,
  });
}
