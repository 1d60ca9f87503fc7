/** The job-status store on Redis, through a node-redis client you pass (connected by you). */
import { ClosedError, InvalidArgumentError, UnavailableError } from '../errors.js';
import { openRedisClient, type RedisConnection } from '../scheduler/locks/store-clients.js';
import { checkJobId, checkTtl, DEFAULT_TTL_MS, checkUpdate, createTally, decodeStatus, encodeStatus, STATE_RANK } from './record.js';
import type { JobStatusStore } from './types.js';

/** The node-redis method the store uses; a node-redis v5 `createClient()` result fits (not a cluster client). */
export interface RedisStatusClient {
  sendCommand(args: string[]): Promise<unknown>;
}

/**
 * Options of {@link createRedisStatusStore}: your connected `client` (never closed by the
 * store), or a `url` (the store connects through the optional peer `redis` on first use and
 * disconnects on `close()`).
 */
export type RedisStatusStoreOptions = ({ readonly client: RedisStatusClient } | { readonly url: string }) & RedisStatusSettings;

/** The settings of {@link RedisStatusStoreOptions}. */
export interface RedisStatusSettings {
  /** Prefix of every key: a record is `<prefix><jobId>`. Default `jobbus:status:`. */
  readonly prefix?: string;
  /** How long a record lives after its last accepted write, ms (the key's PX). Default 86 400 000 (a day). */
  readonly ttlMs?: number;
  /** Longest one Redis call may take before it fails with an `UnavailableError`, ms. Default 5 000. */
  readonly timeoutMs?: number;
  /** Keys read per SCAN / MGET round trip of a snapshot. Default 1 000. */
  readonly scanCount?: number;
}

// The rule of JobStatusStore.record, atomic on the server (mirrors supersedes() in record.ts).
// ARGV: json, ttl ms, rank of the new state, its attempt, its updatedAt ms, its replayedAt ms (0: none).
const RECORD = `local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, old = pcall(cjson.decode, cur)
  local oldLife = ok and type(old) == 'table' and tonumber(old.replayedAt) or 0
  local newLife = tonumber(ARGV[6])
  if ok and type(old) == 'table' and newLife ~= oldLife then
    if newLife < oldLife then return 0 end
  elseif ok and type(old) == 'table' then
    local ranks = { pending = 0, processing = 1, retrying = 1, completed = 2, failed = 2, dead = 2 }
    local was = ranks[old.state] or 0
    local is = tonumber(ARGV[3])
    if was == 2 then return 0 end
    if is ~= 2 then
      local oa, na = tonumber(old.attempt) or 0, tonumber(ARGV[4])
      if na ~= oa then
        if na < oa then return 0 end
      elseif is ~= was then
        if is < was then return 0 end
      elseif tonumber(ARGV[5]) < (tonumber(old.updatedAt) or 0) then
        return 0
      end
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/** `prefix` with the glob characters of SCAN MATCH escaped. */
function matchAll(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
}

/**
 * Records as Redis string keys (JSON) that expire `ttlMs` after their last accepted write
 * (`SET … PX`). `record` is one EVAL: the compare and the write are atomic, so writers in many
 * processes cannot move a record back. `get` is one GET.
 *
 * Cost of `snapshot`: a full `SCAN … MATCH <prefix>*` of the database (Redis visits every
 * key of the database, not only ours: O(all keys), in `scanCount` steps that do not block
 * the server for long) plus one MGET per step. Fine for an occasional look, not for a tight
 * polling loop on a large database; keep the status keys in a database of their own if it
 * holds many other keys.
 */
export function createRedisStatusStore(options: RedisStatusStoreOptions): JobStatusStore {
  const ttlMs = options?.ttlMs ?? DEFAULT_TTL_MS;
  checkTtl(ttlMs);
  const prefix = options.prefix ?? 'jobbus:status:';
  const scanCount = options.scanCount ?? 1_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  checkTtl(timeoutMs);
  let connection: Promise<RedisConnection> | undefined;
  let closed = false;
  let connect: () => Promise<RedisConnection>;
  if ('client' in options) {
    const { client } = options;
    if (typeof client?.sendCommand !== 'function') throw new InvalidArgumentError('client must be a node-redis client (with sendCommand)');
    connect = () => Promise.resolve({ client, close: async () => undefined });
  } else {
    if (typeof options.url !== 'string') throw new InvalidArgumentError('pass client (a node-redis client) or url');
    connect = () => {
      if (!connection) {
        const attempt = openRedisClient(options.url, timeoutMs, { name: 'Redis', kind: 'status store' });
        attempt.catch(() => {
          if (connection === attempt) connection = undefined;
        });
        connection = attempt;
      }
      return connection;
    };
  }
  if (typeof prefix !== 'string') throw new InvalidArgumentError('prefix must be a string');
  if (!Number.isSafeInteger(scanCount) || scanCount < 1) throw new InvalidArgumentError('scanCount must be a whole number >= 1');

  const run = async (what: string, args: string[]): Promise<unknown> => {
    if (closed) throw new ClosedError('the Redis status store is closed');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new UnavailableError(`Redis status ${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([connect().then((c) => c.client.sendCommand(args)), late]);
    } catch (err) {
      if (err instanceof UnavailableError) throw err;
      throw new UnavailableError(`Redis status ${what} failed: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    async record(update) {
      checkUpdate(update);
      const args = [encodeStatus(update), String(ttlMs), String(STATE_RANK[update.state]), String(update.attempt), String(update.updatedAt.getTime()), String(update.replayedAt?.getTime() ?? 0)];
      return Number(await run('record', ['EVAL', RECORD, '1', prefix + update.jobId, ...args])) === 1;
    },
    async get(jobId) {
      checkJobId(jobId);
      const reply = await run('get', ['GET', prefix + jobId]);
      return typeof reply === 'string' ? decodeStatus(reply) : undefined;
    },
    async snapshot() {
      const tally = createTally();
      const match = matchAll(prefix);
      // SCAN may return a key more than once (while the table rehashes): count each once.
      const seen = new Set<string>();
      let cursor = '0';
      do {
        const reply = (await run('snapshot', ['SCAN', cursor, 'MATCH', match, 'COUNT', String(scanCount)])) as [string, string[]];
        cursor = String(reply[0]);
        const keys = (reply[1] ?? []).filter((k) => !seen.has(k) && seen.add(k));
        if (keys.length === 0) continue;
        // A key may expire between SCAN and MGET: its value is then null.
        const values = (await run('snapshot', ['MGET', ...keys])) as (string | null)[];
        for (const v of values) {
          const s = typeof v === 'string' ? decodeStatus(v) : undefined;
          if (s) tally.add(s);
        }
      } while (cursor !== '0');
      return tally.result();
    },
    async close() {
      closed = true;
      const open = connection;
      connection = undefined;
      if (open) await open.then((c) => c.close()).catch(() => undefined);
    },
  };
}
