/**
 * The streams of a topic, created on first use (or only verified), and cached per bus: the
 * queue stream `<PREFIX>_<escaped topic>` and its delay stream `<queue stream>_DELAY` (see
 * provision.ts for the layout). A queue stream says itself whether it is retained (retained.ts).
 *
 *   unknown --streamFor (create | verify) / existingStreamFor (lookup only)--> cached
 *   cached (not retained) --streamFor(retain)--> cached (marked retained)
 *   cached --forget (stream deleted under us) or a failed lookup--> unknown
 */
import type { Logger } from 'pino';
import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { NotFoundError, ValidationError } from '../../errors.js';
import { DELAY_TIERS } from './delay-tiers.js';
import type { JetStreamModule } from './modules.js';
import type { NameMapper } from './names.js';
import type { ResolvedNatsOptions } from './options.js';
import { nanos } from './protocol.js';
import { isRetainedDescription, markRetained, retainedDescription } from './retained.js';
import { unavailable } from './unavailable.js';

/** A provisioned topic. */
export interface StreamRef {
  readonly topic: string;
  readonly name: string;
  readonly subject: string;
  /** Keeps what was consumed (see retained.ts): no group registry, no janitor. */
  readonly retained: boolean;
  readonly workqueue: boolean;
}

/** A provisioned delay stream of a topic. */
export interface DelayRef {
  readonly name: string;
  /** Subject of each tier, by tier name. */
  readonly subjects: ReadonlyMap<string, string>;
  /** Creation time of the stream (ns since epoch as text): part of forward dedup ids. */
  readonly created: string;
}

/** See the module comment. */
export interface StreamProvisioner {
  /** The topic's stream; `retain` (a publish with `PublishOptions.retain`) creates or marks it retained. */
  streamFor(topic: string, retain?: boolean): Promise<StreamRef>;
  /** The topic's stream, or undefined when it does not exist; never creates one. */
  existingStreamFor(topic: string): Promise<StreamRef | undefined>;
  delayStreamFor(topic: string): Promise<DelayRef>;
  /** Forget what is cached of a topic. */
  forget(topic: string): void;
}

/** What {@link createStreamProvisioner} needs. */
export interface StreamDeps {
  readonly jsm: JetStreamManager;
  readonly jsmod: JetStreamModule;
  readonly opts: ResolvedNatsOptions;
  readonly names: NameMapper;
  readonly logger: Logger;
}

/** Cache `p` under `key` until it rejects. */
export function cache<T>(map: Map<string, Promise<T>>, key: string, p: Promise<T>): Promise<T> {
  map.set(key, p);
  p.catch(() => {
    if (map.get(key) === p) map.delete(key);
  });
  return p;
}

/** The cached promise of `key`, else `make()`'s, cached until it rejects. */
export function cached<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  return map.get(key) ?? cache(map, key, make());
}

/** Create the stream provisioning of one bus. */
export function createStreamProvisioner(d: StreamDeps): StreamProvisioner {
  const { jsm, jsmod, opts, names, logger } = d;
  const streams = new Map<string, Promise<StreamRef>>();
  const delays = new Map<string, Promise<DelayRef>>();
  const apiCode = (err: unknown): number | undefined => (err instanceof jsmod.JetStreamApiError ? err.code : undefined);
  const isStreamMissing = (err: unknown): boolean => apiCode(err) === jsmod.JetStreamApiCodes.StreamNotFound;

  function baseConfig(name: string, subjects: string[], description: string): Partial<StreamConfig> & { name: string } {
    return {
      name,
      subjects,
      storage: opts.storage === 'memory' ? jsmod.StorageType.Memory : jsmod.StorageType.File,
      num_replicas: opts.replicas,
      duplicate_window: nanos(opts.duplicateWindowMs),
      discard: jsmod.DiscardPolicy.Old,
      description,
    };
  }

  /** Look a stream up (it must bind the config's subjects), creating it if `create` and allowed. */
  async function ensureStream(config: Partial<StreamConfig> & { name: string }, topic: string, create = true): Promise<StreamConfig & { created: string }> {
    try {
      const info = await jsm.streams.info(config.name);
      const missing = config.subjects?.find((subject) => !info.config.subjects?.includes(subject));
      if (missing !== undefined) {
        throw new ValidationError('queue', `stream ${config.name} of queue "${topic}" exists but does not bind subject ${missing}`);
      }
      return { ...info.config, created: info.created };
    } catch (err) {
      if (!isStreamMissing(err)) throw unavailable(`cannot look up stream ${config.name} of queue "${topic}"`, err);
    }
    if (!create) throw new NotFoundError(`stream ${config.name} of queue "${topic}" does not exist`);
    if (opts.provision === 'verify') {
      throw new NotFoundError(`stream ${config.name} of queue "${topic}" does not exist (provision: 'verify')`);
    }
    try {
      const info = await jsm.streams.add(config);
      return { ...info.config, created: info.created };
    } catch (err) {
      const code = apiCode(err);
      if (code === 10058) {
        // created meanwhile by another process
        const info = await jsm.streams.info(config.name);
        return { ...info.config, created: info.created };
      }
      if (code === 10065) {
        throw new ValidationError('queue', `queue "${topic}": subject ${config.subjects![0]} overlaps another stream's subjects`, { cause: err });
      }
      throw unavailable(`cannot create stream ${config.name} of queue "${topic}"`, err);
    }
  }

  async function provisionStream(topic: string, retain: boolean, create = true): Promise<StreamRef> {
    const wanted = retain || opts.retainTopic(topic);
    const name = names.streamOf(topic);
    const subject = names.subjectOf(topic);
    const limits = wanted ? opts.retainedLimits : { maxAgeMs: 0, maxMsgs: -1, maxBytes: -1 };
    const config = {
      ...baseConfig(name, [subject], wanted ? retainedDescription(topic) : `jobbus topic ${topic}`),
      retention: !wanted && opts.queueRetention === 'workqueue' ? jsmod.RetentionPolicy.Workqueue : jsmod.RetentionPolicy.Limits,
      max_age: nanos(limits.maxAgeMs),
      max_msgs: limits.maxMsgs,
      max_bytes: limits.maxBytes,
    };
    const got = await ensureStream(config, topic, create);
    // An existing stream says whether it is retained (whoever created it, in whatever process).
    const retained = opts.retainTopic(topic) || isRetainedDescription(got.description);
    return { topic, name, subject, retained, workqueue: got.retention === jsmod.RetentionPolicy.Workqueue };
  }

  /** `ref` marked retained (it existed before its first retained publish: see retained.ts). */
  async function retainedRef(ref: StreamRef): Promise<StreamRef> {
    try {
      await markRetained(jsm, ref, opts, logger);
    } catch (err) {
      throw unavailable(`cannot mark stream ${ref.name} of queue "${ref.topic}" as retained`, err);
    }
    return { ...ref, retained: true };
  }

  async function streamFor(topic: string, retain: boolean): Promise<StreamRef> {
    const p = cached(streams, topic, () => provisionStream(topic, retain));
    const ref = await p;
    if (!retain || ref.retained) return ref;
    if (streams.get(topic) === p) cache(streams, topic, retainedRef(ref));
    // Whatever is cached now (this marking, another one, or a fresh lookup) decides.
    return streamFor(topic, retain);
  }

  async function provisionDelayStream(topic: string): Promise<DelayRef> {
    const name = `${names.streamOf(topic)}_DELAY`;
    const subjects = new Map(DELAY_TIERS.map((t) => [t.name, names.delaySubjectOf(topic, t.name)]));
    const config = { ...baseConfig(name, [...subjects.values()], `jobbus delayed messages of topic ${topic}`), retention: jsmod.RetentionPolicy.Workqueue };
    const got = await ensureStream(config, topic);
    return { name, subjects, created: got.created };
  }

  /** The topic's stream, or undefined when it does not exist: never created. */
  async function existingStreamFor(topic: string): Promise<StreamRef | undefined> {
    try {
      const known = streams.get(topic);
      if (known) return await known;
      const ref = await provisionStream(topic, false, false);
      if (!streams.has(topic)) streams.set(topic, Promise.resolve(ref));
      return ref;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  return {
    streamFor: (topic, retain = false) => streamFor(topic, retain),
    existingStreamFor,
    delayStreamFor: (topic) => cached(delays, topic, () => provisionDelayStream(topic)),
    forget(topic) {
      streams.delete(topic);
      delays.delete(topic);
    },
  };
}
