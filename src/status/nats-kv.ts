/** The job-status store on a NATS KV bucket (`@nats-io/kv`, an optional peer, loaded lazily). */
import { ConflictError, InvalidArgumentError, NotInitializedError, UnavailableError } from '../errors.js';
import { encodeKvKey, isWrongSequence } from '../scheduler/locks/nats-kv-support.js';
import { openKvBucket, type KV, type NatsConnection } from '../scheduler/locks/store-clients.js';
import { checkJobId, checkTtl, DEFAULT_TTL_MS, checkUpdate, createTally, decodeStatus, encodeStatus, supersedes } from './record.js';
import type { JobStatusStore } from './types.js';

/**
 * Options of {@link createNatsKvStatusStore}: your bucket, or your connection (the store opens
 * or creates the bucket with `ttlMs` as its max age). The store never closes what you pass.
 */
export type NatsKvStatusStoreOptions =
  | {
      /** An open KV bucket; records expire by its own max age (`ttl`). */
      readonly kv: KV;
    }
  | {
      /** A NATS connection; the bucket is created on first use when missing. */
      readonly connection: NatsConnection;
      /** Bucket name. Default `jobbus_status`. */
      readonly bucket?: string;
      /**
       * How long a record lives after its last accepted write, ms: the max age of a bucket the
       * store creates, and checked against an existing one. Default: an existing bucket's own,
       * 86 400 000 (a day) for a new one.
       */
      readonly ttlMs?: number;
      /** Replicas of a bucket the store creates. Default 1. */
      readonly replicas?: number;
    };

// Each retry reads a newer record; past this many the writers are pathological.
const MAX_ATTEMPTS = 20;

/**
 * Records as keys of one NATS KV bucket (history 1). nats-server 2.9/2.10 have no per-key
 * TTL (it arrived in 2.11), so expiry is the bucket's max age: a record disappears `ttlMs`
 * after its last accepted write. A bucket that exists already keeps its own max age (the
 * store says so with a `ConflictError` when it differs from `ttlMs`).
 *
 * `record` is a compare-and-set loop (get, then `update` at that revision or `create`), so
 * writers in many processes cannot move a record back. `get` is one read. Cost of `snapshot`:
 * one ordered consumer that streams the last value of every key of the bucket once (O(live
 * records) messages, no per-key requests).
 *
 * Job ids are encoded into KV keys (`[-_a-zA-Z0-9]` kept, other bytes as `=XX`).
 */
export function createNatsKvStatusStore(options: NatsKvStatusStoreOptions): JobStatusStore {
  const open = opener(options);
  let opening: Promise<KV> | undefined;
  // Opened on first use; a failed open is tried again by the next call (NATS may come up later).
  const bucket = (): Promise<KV> => {
    if (!opening) {
      const attempt = open();
      attempt.catch(() => {
        if (opening === attempt) opening = undefined;
      });
      opening = attempt;
    }
    return opening;
  };

  const run = async <T>(what: string, op: (bucket: KV) => Promise<T>): Promise<T> => {
    try {
      return await op(await bucket());
    } catch (err) {
      if (err instanceof ConflictError || err instanceof NotInitializedError || err instanceof InvalidArgumentError) throw err;
      throw new UnavailableError(`NATS KV status ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  };

  return {
    async record(update) {
      checkUpdate(update);
      const key = encodeKvKey(update.jobId);
      const value = encodeStatus(update);
      return run('record', async (b) => {
        for (let i = 0; i < MAX_ATTEMPTS; i++) {
          const entry = await b.get(key);
          const live = entry?.operation === 'PUT';
          if (live && !supersedes(update, decodeStatus(entry.string()))) return false;
          try {
            if (live) await b.update(key, value, entry.revision);
            else await b.create(key, value);
            return true;
          } catch (err) {
            if (!isWrongSequence(err)) throw err;
          }
        }
        throw new ConflictError(`status of job "${update.jobId}" kept changing under ${MAX_ATTEMPTS} attempts`);
      });
    },
    async get(jobId) {
      checkJobId(jobId);
      const entry = await run('get', (b) => b.get(encodeKvKey(jobId)));
      return entry?.operation === 'PUT' ? decodeStatus(entry.string()) : undefined;
    },
    async snapshot() {
      const tally = createTally();
      await run('snapshot', async (b) => {
        // With history 1 the "history" of every key is its last value; the iterator ends once read.
        for await (const entry of await b.history()) {
          const s = entry.operation === 'PUT' ? decodeStatus(entry.string()) : undefined;
          if (s) tally.add(s);
        }
      });
      return tally.result();
    },
  };
}

/** Checks the options; returns how to open (and check) the bucket. */
function opener(options: NatsKvStatusStoreOptions): () => Promise<KV> {
  if ('kv' in options && options.kv) {
    const { kv } = options;
    return () => checked(kv, undefined);
  }
  const o = options as Extract<NatsKvStatusStoreOptions, { connection: NatsConnection }>;
  if (o?.ttlMs !== undefined) checkTtl(o.ttlMs);
  const name = o.bucket ?? 'jobbus_status';
  const replicas = o.replicas ?? 1;
  if (!o.connection) throw new InvalidArgumentError('pass kv (a bucket) or connection (a NATS connection)');
  if (!/^[-\w]{1,100}$/.test(name)) throw new InvalidArgumentError(`bucket must be letters, digits, - and _, got "${name}"`);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new InvalidArgumentError('replicas must be 1 to 5');
  // Opens the bucket when it exists (its own configuration), creates it otherwise.
  return async () =>
    checked(await openKvBucket(o.connection, name, { history: 1, ttl: o.ttlMs ?? DEFAULT_TTL_MS, replicas }, { name: 'NATS KV', kind: 'status store' }), o.ttlMs);
}

/** `kv`, once it is known to keep one value per key (the snapshot relies on it) and, when asked, to have max age `ttlMs`. */
async function checked(kv: KV, ttlMs: number | undefined): Promise<KV> {
  const status = await kv.status();
  if (status.history !== 1) throw new ConflictError(`NATS KV bucket "${status.bucket}" keeps ${status.history} values per key; the status store needs history 1`);
  if (ttlMs !== undefined && status.ttl !== ttlMs) {
    throw new ConflictError(`NATS KV bucket "${status.bucket}" exists with a max age of ${status.ttl} ms, not ttlMs ${ttlMs}: delete it or pass its max age`);
  }
  return kv;
}
