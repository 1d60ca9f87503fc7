/**
 * PostgreSQL lock provider on `pg` (the optional peer, loaded when a provider is created from
 * a connection string).
 */
import { InvalidArgumentError, UnavailableError } from '../../errors.js';
import type { LockHandle, LockProvider } from '../types.js';
import { checkKey, checkTick, checkTtl, closedError, loadPeer, lostLock, newToken, withDeadline } from './common.js';

/** The one `pg` method the provider uses; a `pg.Pool` (or a connected `pg.Client`) fits. */
export interface PostgresLockPool {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

/** Where the provider's PostgreSQL is: a connection string (the provider's own pool, closed by `close()`), or your pool (left open). */
export type PostgresLockTarget = { readonly connectionString: string } | { readonly pool: PostgresLockPool };

/** Options of {@link createPostgresLockProvider}. */
export interface PostgresLockProviderOptions {
  /** Lock table, optionally schema-qualified; the last-fired table is `<table>_fired`. Default `jobbus_scheduler_locks`. */
  readonly table?: string;
  /** Longest one query may take before it fails with an `UnavailableError`, ms. Default 5 000. */
  readonly timeoutMs?: number;
}

const IDENT = /^[a-z_][a-z0-9_]{0,50}$/;
// How often acquire also deletes rows expired for a while (rows are per task and tick).
const SWEEP_EVERY_MS = 60_000;

/** The statements for one table name (identifiers validated, then quoted). */
function statements(table: string) {
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((p) => IDENT.test(p))) {
    throw new InvalidArgumentError(`table must be [schema.]name in lower-case letters, digits and _, got "${table}"`);
  }
  const locks = parts.map((p) => `"${p}"`).join('.');
  const fired = [...parts.slice(0, -1), `${parts.at(-1)}_fired`].map((p) => `"${p}"`).join('.');
  const ms = `$3::bigint * interval '1 millisecond'`;
  return {
    create: [
      `CREATE TABLE IF NOT EXISTS ${locks} (key text PRIMARY KEY, token text NOT NULL, expires_at timestamptz NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS ${fired} (task text PRIMARY KEY, tick timestamptz NOT NULL)`,
    ],
    // Takes the row when absent or expired; the WHERE is re-checked under the row lock, so
    // of concurrent acquirers exactly one gets a row back.
    acquire:
      `INSERT INTO ${locks} AS l (key, token, expires_at) VALUES ($1, $2, now() + ${ms}) ` +
      `ON CONFLICT (key) DO UPDATE SET token = EXCLUDED.token, expires_at = EXCLUDED.expires_at ` +
      `WHERE l.expires_at <= now() RETURNING l.token`,
    renew: `UPDATE ${locks} SET expires_at = now() + ${ms} WHERE key = $1 AND token = $2 AND expires_at > now()`,
    release: `DELETE FROM ${locks} WHERE key = $1 AND token = $2`,
    sweep: `DELETE FROM ${locks} WHERE expires_at < now() - interval '1 minute'`,
    lastFired: `SELECT tick FROM ${fired} WHERE task = $1`,
    recordFired:
      `INSERT INTO ${fired} AS f (task, tick) VALUES ($1, $2) ` +
      `ON CONFLICT (task) DO UPDATE SET tick = GREATEST(f.tick, EXCLUDED.tick)`,
  };
}

// SQLSTATEs of a lost CREATE TABLE IF NOT EXISTS race (the other instance created it first):
// unique_violation or duplicate_object on the catalog, duplicate_table.
const CREATE_RACE = new Set(['23505', '42710', '42P07']);

/**
 * Locks as rows of one table, created on first use: acquire is one upsert that takes the row
 * when absent or expired; renew and release check the token; expired rows are reclaimed by
 * acquire and, about once a minute, deleted. Last-fired ticks live in `<table>_fired` and only
 * move forward (`GREATEST`). Expiry is judged by the database's clock, so instances' clocks
 * may differ; the returned `expiresAt` is this process's clock plus the TTL, measured before
 * the query.
 *
 * Table states: unknown -> creating (first call; concurrent calls share it) -> ready. A failed
 * creation goes back to unknown so the next call tries again.
 */
export function createPostgresLockProvider(target: PostgresLockTarget, options: PostgresLockProviderOptions = {}): LockProvider {
  const sql = statements(options.table ?? 'jobbus_scheduler_locks');
  const timeoutMs = options.timeoutMs ?? 5_000;
  checkTtl(timeoutMs);
  let pool: Promise<{ pool: PostgresLockPool; end: () => Promise<void> }> | undefined;
  let tables: Promise<void> | undefined;
  let closed = false;
  let lastSweep = 0;
  let sweeping: Promise<void> = Promise.resolve();

  const getPool = () => {
    if ('pool' in target) return Promise.resolve({ pool: target.pool, end: async () => undefined });
    pool ??= openPool(target.connectionString, timeoutMs);
    return pool;
  };
  const query = async (what: string, text: string, values: unknown[] = []) => {
    if (closed) throw closedError('PostgreSQL');
    const call = getPool().then((p) => p.pool.query(text, values));
    try {
      return await withDeadline(call, timeoutMs, () => new UnavailableError(`PostgreSQL ${what}: no answer within ${timeoutMs} ms`));
    } catch (err) {
      if (err instanceof UnavailableError || err instanceof InvalidArgumentError) throw err;
      throw new UnavailableError(`PostgreSQL ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  };
  const createTables = async (): Promise<void> => {
    for (const text of sql.create) {
      try {
        await query('create table', text);
      } catch (err) {
        if (!CREATE_RACE.has(String((err as { cause?: { code?: unknown } }).cause?.code))) throw err;
      }
    }
  };
  const ready = async (): Promise<void> => {
    tables ??= createTables().catch((err: unknown) => {
      tables = undefined;
      throw err;
    });
    await tables;
  };
  const maybeSweep = (): void => {
    if (Date.now() - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = Date.now();
    // Housekeeping only: a failed sweep is retried a minute later.
    sweeping = query('sweep', sql.sweep).then(() => undefined, () => undefined);
  };

  return {
    async acquire(key: string, ttlMs: number): Promise<LockHandle | undefined> {
      checkKey('key', key);
      checkTtl(ttlMs);
      await ready();
      const token = newToken();
      const start = Date.now();
      const result = await query('acquire', sql.acquire, [key, token, ttlMs]);
      maybeSweep();
      return result.rowCount === 1 ? { key, token, expiresAt: new Date(start + ttlMs) } : undefined;
    },
    async renew(lock: LockHandle, ttlMs: number): Promise<LockHandle> {
      checkTtl(ttlMs);
      await ready();
      const start = Date.now();
      const result = await query('renew', sql.renew, [lock.key, lock.token, ttlMs]);
      if (result.rowCount !== 1) throw lostLock(lock.key);
      return { key: lock.key, token: lock.token, expiresAt: new Date(start + ttlMs) };
    },
    async release(lock: LockHandle): Promise<void> {
      await ready();
      await query('release', sql.release, [lock.key, lock.token]);
    },
    async lastFired(task: string): Promise<Date | undefined> {
      checkKey('task', task);
      await ready();
      const result = await query('lastFired', sql.lastFired, [task]);
      const row = result.rows[0] as { tick: Date | string } | undefined;
      return row === undefined ? undefined : new Date(row.tick);
    },
    async recordFired(task: string, tick: Date): Promise<void> {
      checkKey('task', task);
      checkTick(tick);
      await ready();
      await query('recordFired', sql.recordFired, [task, tick]);
    },
    async healthCheck(): Promise<void> {
      await query('SELECT 1', 'SELECT 1');
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await sweeping;
      const open = pool;
      pool = undefined;
      if (open) await open.then((p) => p.end()).catch(() => undefined);
    },
  };
}

/** Our own pool: small, with a connect timeout so a dead address fails fast. */
async function openPool(connectionString: string, timeoutMs: number) {
  const pg = await loadPeer('pg', 'PostgreSQL', () => import('pg'));
  const Pool = pg.default?.Pool ?? (pg as unknown as typeof pg.default).Pool;
  const pool = new Pool({ connectionString, max: 4, connectionTimeoutMillis: timeoutMs, idleTimeoutMillis: 30_000 });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return { pool: pool as PostgresLockPool, end: () => pool.end() };
}
