/**
 * NATS (JetStream), Redis and PostgreSQL, which this machine runs itself: checked at their
 * default (or JOBBUS_*) address, and restarted with the machine's own commands when they
 * have stopped.
 */
import * as fs from 'node:fs';
import { BrokerSetupError, DEFAULTS, ENV, type EnsureOptions, type Service, type ServiceName } from './config.js';
import { errText, heartbeat, run, secs, sleep, withTimeout } from './process.js';

/** Throws unless NATS at `url` answers and has JetStream. */
export async function checkNats(url: string, timeoutMs = 5000): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: url, timeout: Math.min(timeoutMs, 3000), reconnect: false, maxReconnectAttempts: 0 });
  try {
    const jsm = await withTimeout(jetstreamManager(nc, { timeout: timeoutMs }), timeoutMs);
    await withTimeout(jsm.getAccountInfo(), timeoutMs);
  } catch (err) {
    throw new Error(`NATS at ${url} answers but JetStream does not (start nats-server with -js): ${(err as Error).message}`, { cause: err });
  } finally {
    await nc.close().catch(() => {});
  }
}

/** Throws unless Redis at `url` answers PING. */
export async function checkRedis(url: string, timeoutMs = 5000): Promise<void> {
  const { createClient } = await import('redis');
  const client = createClient({ url, socket: { connectTimeout: Math.min(timeoutMs, 3000), reconnectStrategy: false } });
  let socketError: Error | undefined;
  client.on('error', (err: Error) => (socketError ??= err));
  try {
    await withTimeout(client.connect(), timeoutMs);
    const pong = await withTimeout(client.ping(), timeoutMs);
    if (pong !== 'PONG') throw new Error(`PING answered ${String(pong)}`);
  } catch (err) {
    throw socketError ? new Error(errText(socketError), { cause: err }) : err;
  } finally {
    try {
      client.destroy();
    } catch {
      /* already closed */
    }
  }
}

/** Throws unless PostgreSQL at `url` runs `select 1`. */
export async function checkPostgres(url: string, timeoutMs = 5000): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: Math.min(timeoutMs, 3000) });
  client.on('error', () => {});
  try {
    await withTimeout(client.connect(), timeoutMs);
    await withTimeout(client.query('select 1'), timeoutMs);
  } finally {
    await client.end().catch(() => {});
  }
}

interface LocalService {
  name: ServiceName;
  label: string;
  check: (url: string) => Promise<void>;
  /** The machine's own command(s) to (re)start it. */
  restart: () => Array<[string, string[]]>;
  dockerHint: string;
}

const LOCAL: Record<'nats' | 'redis' | 'pg', LocalService> = {
  nats: {
    name: 'nats',
    label: 'NATS with JetStream',
    check: (url) => checkNats(url),
    restart: () => [
      ['start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', '/usr/sbin/nats-server', '--', '-a', '127.0.0.1', '-p', '4222', '-js', '-sd', '/var/lib/nats-server', '-l', '/var/log/nats-server.log']],
    ],
    dockerHint: 'nats-server -js -a 127.0.0.1 -p 4222',
  },
  redis: {
    name: 'redis',
    label: 'Redis',
    check: (url) => checkRedis(url),
    restart: () => {
      fs.mkdirSync('/var/lib/redis', { recursive: true });
      fs.mkdirSync('/var/log/redis', { recursive: true });
      return [
        ['redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', '6379', '--save', '', '--appendonly', 'no', '--dir', '/var/lib/redis', '--logfile', '/var/log/redis/ci.log']],
      ];
    },
    dockerHint: 'redis-server --port 6379',
  },
  pg: {
    name: 'pg',
    label: 'PostgreSQL',
    check: (url) => checkPostgres(url),
    restart: () => {
      let versions: string[] = [];
      try {
        versions = fs.readdirSync('/etc/postgresql').sort((a, b) => Number(b) - Number(a));
      } catch {
        /* none */
      }
      return versions.slice(0, 1).map((v) => ['pg_ctlcluster', ['--skip-systemctl-redirect', v, 'main', 'start']] as [string, string[]]);
    },
    dockerHint: 'PostgreSQL with trust auth and a database `test`',
  },
};

/** Run the service's restart commands; what failed, for the error message. */
async function restartLocal(svc: LocalService, url: string, why: unknown, log: (m: string) => void): Promise<{ ran: boolean; notes: string[] }> {
  const cmds = svc.restart();
  const notes: string[] = [];
  if (cmds.length === 0) notes.push('no restart command known on this machine');
  for (const [cmd, args] of cmds) {
    log(`${svc.label} does not answer at ${url} (${errText(why)}); restarting: ${cmd} ${args.join(' ')}`);
    const r = await run(cmd, args, { timeoutMs: 60_000 });
    if (r.code !== 0) notes.push(`\`${cmd} ${args.join(' ')}\` failed (exit ${r.code}): ${r.output.trim().slice(0, 500)}`);
  }
  return { ran: cmds.length > 0, notes };
}

/** Check the service; restart it once if it does not answer (never when its JOBBUS_* variable is set). */
async function ensureLocal(svc: LocalService, opts: EnsureOptions): Promise<Service> {
  const t0 = Date.now();
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const override = env[ENV[svc.name]];
  const url = override || DEFAULTS[svc.name as 'nats' | 'redis' | 'pg'];
  const done = (origin: Service['origin']): Service => ({ name: svc.name, address: url, origin, ms: Date.now() - t0, stop: async () => {} });
  let firstError: unknown;
  try {
    await svc.check(url);
    return done(override ? 'env' : 'running');
  } catch (err) {
    firstError = err;
  }
  if (override) {
    throw new BrokerSetupError(`${svc.label} at ${ENV[svc.name]}=${url} does not answer: ${errText(firstError)}`);
  }
  const { ran, notes } = await restartLocal(svc, url, firstError, log);
  const deadline = Date.now() + 30_000;
  let lastError: unknown = firstError;
  if (ran) log(`${svc.label}: waiting until it answers at ${url} (up to 30 s)`);
  const stopBeat = heartbeat(10_000, (ms) => log(`${svc.label}: still waiting after ${secs(ms)}: ${errText(lastError)}`));
  try {
    while (ran && Date.now() < deadline) {
      await sleep(300);
      try {
        await svc.check(url);
        return done('restarted');
      } catch (err) {
        lastError = err;
      }
    }
  } finally {
    stopBeat();
  }
  throw new BrokerSetupError(
    `${svc.label} did not answer at ${url}: ${errText(lastError)}` +
      (notes.length ? `\n${notes.join('\n')}` : '') +
      `\nStart it (${svc.dockerHint}) or set ${ENV[svc.name]} to one that runs, e.g. from \`docker compose up -d\`.`,
  );
}

/** NATS at JOBBUS_NATS_URL (checked) or the machine's (checked, restarted if stopped). */
export const ensureNats = (opts: EnsureOptions) => ensureLocal(LOCAL.nats, opts);
/** Redis at JOBBUS_REDIS_URL (checked) or the machine's (checked, restarted if stopped). */
export const ensureRedis = (opts: EnsureOptions) => ensureLocal(LOCAL.redis, opts);
/** PostgreSQL at JOBBUS_PG_URL (checked) or the machine's (checked, restarted if stopped). */
export const ensurePostgres = (opts: EnsureOptions) => ensureLocal(LOCAL.pg, opts);
