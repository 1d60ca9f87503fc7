/**
 * A nats-server (the machine's binary, 2.9.10 here) owned by one security test: its own
 * config file, JetStream store and port, never the shared server on 4222. The config can be
 * rewritten and reloaded (SIGHUP) to change users' permissions while clients stay connected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { waitFor } from '../support/wait.js';

/** A port nobody listens on now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1' }, () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** A running private nats-server. */
export interface SecureNats {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Rewrite the config (`configText(port, storeDir)`) and make the server reload it; resolves once it did. */
  reload(configText: (port: number, storeDir: string) => string): Promise<void>;
  /** Kill the server and remove its directory. */
  destroy(): Promise<void>;
}

const SERVER = process.env.JOBBUS_NATS_SERVER_BIN ?? 'nats-server';

/** Start nats-server with `configText(port, storeDir)`; resolves once it says it is ready. */
export async function startSecureNats(configText: (port: number, storeDir: string) => string): Promise<SecureNats> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobbus-sec-nats-'));
  const storeDir = path.join(dir, 'js');
  const confFile = path.join(dir, 'nats.conf');
  const logFile = path.join(dir, 'nats.log');
  const port = await freePort();
  fs.writeFileSync(confFile, configText(port, storeDir));
  const log = fs.openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(SERVER, ['-c', confFile], { stdio: ['ignore', log, log] });
  } finally {
    fs.closeSync(log);
  }
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  child.once('error', () => undefined); // reported by the readiness wait through the log and `exited`
  const kill = async (): Promise<void> => {
    if (!exited) child.kill('SIGKILL');
    await gone;
  };
  const logText = (): string => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  try {
    await waitFor(() => {
      if (exited) throw new Error(`nats-server exited at start:\n${logText().slice(-2_000)}`);
      return logText().includes('Server is ready');
    }, `nats-server on port ${port} to be ready`, 15_000);
  } catch (err) {
    await kill();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async reload(next) {
      const before = (logText().match(/Reloaded server configuration/g) ?? []).length;
      fs.writeFileSync(confFile, next(port, storeDir));
      child.kill('SIGHUP');
      await waitFor(
        () => (logText().match(/Reloaded server configuration/g) ?? []).length > before,
        'nats-server to reload its configuration',
        10_000,
      );
    },
    async destroy() {
      await kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
