/**
 * The process side of the chaos suite's own brokers: temp dirs, stable ports, one child
 * process per broker that can be killed, stopped, paused and started again on the same data,
 * and the clean-up that makes sure none outlives the test process.
 *
 * Broker-specific parts (command line, readiness) live in own-kafka.ts and own-nats.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errText, freePort, isProcess, pidAlive, PORT_TAKEN, portFree, readPid, sleep, tail, withTimeout } from '../../setup/brokers.js';

/** A broker process owned by one test: it may be killed, paused and restarted freely. */
export interface OwnBroker {
  readonly kind: 'kafka' | 'nats';
  /** host:port clients connect to; stable across restarts (same ports). */
  readonly address: string;
  /** The data/store directory (kept across kill/stop/start). */
  readonly dataDir: string;
  /** pid while running, else undefined. */
  readonly pid: number | undefined;
  /** SIGKILL, resolve once exited. */
  kill(): Promise<void>;
  /** Graceful SIGTERM, resolve once exited (SIGKILL after a grace period). */
  stop(): Promise<void>;
  /** (Re)start on the same data dir and ports; resolve when it serves clients. */
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT (a broker that hangs). */
  pause(): void;
  resume(): void;
  /** Kill and remove its directory. Idempotent. */
  destroy(): Promise<void>;
}

/** What an OwnBroker exposes beyond the agreed interface (timings, logs, the direct port). */
export interface OwnBrokerDetails extends OwnBroker {
  /** host:port the broker itself listens on for clients (a TCP proxy's target). Equals `address` unless advertised elsewhere. */
  readonly listenAddress: string;
  /** Its temp dir under os.tmpdir()/jobbus-chaos-* (config, log, data). */
  readonly dir: string;
  /** The broker's stdout+stderr, appended across restarts. */
  readonly logFile: string;
  /** Milliseconds from spawn to ready of every start so far (the first is the cold start). */
  readonly startTimes: readonly number[];
}

/** How to run and probe one broker; used by {@link createOwnBroker}. */
export interface BrokerSpec {
  kind: 'kafka' | 'nats';
  address: string;
  listenAddress: string;
  dir: string;
  dataDir: string;
  command: string;
  args: string[];
  /** Resolves once the broker serves clients; may throw or hang (retried until the deadline). */
  ready(): Promise<void>;
  /** One readiness attempt may take this long. */
  attemptTimeoutMs: number;
  /** Whole start: spawn to ready (log recovery after kill -9 included). */
  startTimeoutMs: number;
  /** SIGTERM grace before SIGKILL in stop(). */
  stopGraceMs: number;
}

const DIR_PREFIX = 'jobbus-chaos-';

/** Children of this process, SIGKILLed synchronously when it exits. */
const live = new Set<ChildProcess>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

let pruned: Promise<void> | undefined;

/**
 * Removes jobbus-chaos-* dirs whose owner process is gone, SIGKILLing the broker they hold
 * (a test process killed with SIGKILL never runs its exit hook). Dirs of live owners stay.
 * Runs once per process (at the first broker start) unless `again`.
 */
export function pruneStaleChaosDirs(again = false): Promise<void> {
  if (again) pruned = undefined;
  pruned ??= (async () => {
    const root = os.tmpdir();
    for (const name of fs.readdirSync(root)) {
      if (!name.startsWith(DIR_PREFIX)) continue;
      const dir = path.join(root, name);
      const owner = readPid(path.join(dir, 'owner.pid'));
      if (owner === undefined || owner === process.pid || pidAlive(owner)) continue;
      const pid = readPid(path.join(dir, 'broker.pid'));
      if (pid !== undefined && isProcess(pid, dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  })();
  return pruned;
}

/** A fresh temp dir os.tmpdir()/jobbus-chaos-<kind>-XXXXXX, owned by this process. */
export function makeChaosDir(kind: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${DIR_PREFIX}${kind}-`));
  fs.writeFileSync(path.join(dir, 'owner.pid'), `${process.pid}\n`);
  return dir;
}

function ephemeralLow(): number {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 1024 ? low : 32768;
  } catch {
    return 32768;
  }
}

const handedOut = new Set<number>();

/**
 * A free port below the ephemeral range. A broker keeps its ports across restarts, and a
 * port from the ephemeral range could meanwhile become the local port of some outgoing
 * connection, so the restart could not bind it; ports below the range are only ever taken
 * by an explicit bind.
 */
export async function stablePort(): Promise<number> {
  const high = ephemeralLow() - 1;
  const low = Math.min(20_000, high - 1000);
  for (let i = 0; i < 50; i++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (port === 4222 || handedOut.has(port)) continue;
    if (await portFree(port)) {
      handedOut.add(port);
      return port;
    }
  }
  return freePort();
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };

class ProcessBroker implements OwnBrokerDetails {
  readonly kind: 'kafka' | 'nats';
  readonly address: string;
  readonly listenAddress: string;
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly startTimes: number[] = [];
  #child: ChildProcess | undefined;
  #exited: Promise<Exit> | undefined;
  #exit: Exit | undefined;
  #destroyed = false;

  constructor(private readonly spec: BrokerSpec) {
    this.kind = spec.kind;
    this.address = spec.address;
    this.listenAddress = spec.listenAddress;
    this.dir = spec.dir;
    this.dataDir = spec.dataDir;
    this.logFile = path.join(spec.dir, `${spec.kind}.log`);
  }

  get pid(): number | undefined {
    return this.#child && !this.#exit ? this.#child.pid : undefined;
  }

  /** No-op while it runs; otherwise spawns it and resolves once ready. */
  async start(): Promise<void> {
    if (this.#destroyed) throw new Error(`${this.kind} broker ${this.address} was destroyed`);
    if (this.pid !== undefined) return;
    const t0 = Date.now();
    fs.appendFileSync(this.logFile, `\n--- jobbus chaos: start at ${new Date(t0).toISOString()}\n`);
    const fd = fs.openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.spec.command, this.spec.args, { cwd: this.dir, stdio: ['ignore', fd, fd] });
    } finally {
      fs.closeSync(fd);
    }
    hookExit();
    live.add(child);
    this.#child = child;
    this.#exit = undefined;
    this.#exited = new Promise<Exit>((resolve) => {
      const done = (exit: Exit) => {
        live.delete(child);
        if (this.#child === child) this.#exit = exit;
        resolve(exit);
      };
      child.once('exit', (code, signal) => done({ code, signal }));
      child.once('error', (err) => {
        fs.appendFileSync(this.logFile, `\nfailed to start ${this.spec.command}: ${err.message}\n`);
        done({ code: -1, signal: null });
      });
    });
    if (child.pid !== undefined) fs.writeFileSync(path.join(this.dir, 'broker.pid'), `${child.pid}\n`);
    try {
      await this.#waitReady(t0);
    } catch (err) {
      await this.kill();
      throw err;
    }
    this.startTimes.push(Date.now() - t0);
  }

  async #waitReady(t0: number): Promise<void> {
    const deadline = t0 + this.spec.startTimeoutMs;
    let lastError: unknown;
    for (;;) {
      if (this.#exit) {
        const why = PORT_TAKEN.test(tail(this.logFile, 200)) ? ' (a port it needs was taken by another process meanwhile)' : '';
        throw new Error(
          `own ${this.kind} at ${this.address} exited during startup (code ${this.#exit.code}${this.#exit.signal ? `, ${this.#exit.signal}` : ''})${why}; last log lines of ${this.logFile}:\n${tail(this.logFile)}`,
        );
      }
      try {
        await withTimeout(this.spec.ready(), this.spec.attemptTimeoutMs);
        return;
      } catch (err) {
        lastError = err;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `own ${this.kind} at ${this.address} not ready after ${this.spec.startTimeoutMs / 1000} s (${errText(lastError)}); last log lines of ${this.logFile}:\n${tail(this.logFile)}`,
        );
      }
      await sleep(200);
    }
  }

  #signal(sig: NodeJS.Signals): boolean {
    const pid = this.pid;
    if (pid === undefined) return false;
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  async kill(): Promise<void> {
    const exited = this.#exited;
    if (this.pid === undefined || !exited) return;
    this.#signal('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const exited = this.#exited;
    if (this.pid === undefined || !exited) return;
    // A paused process would hold SIGTERM until continued.
    this.#signal('SIGCONT');
    this.#signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace'>((resolve) => (timer = setTimeout(() => resolve('grace'), this.spec.stopGraceMs)));
    const first = await Promise.race([exited, graceOver]);
    clearTimeout(timer);
    if (first === 'grace') {
      fs.appendFileSync(this.logFile, `\n--- jobbus chaos: no exit ${this.spec.stopGraceMs} ms after SIGTERM; SIGKILL\n`);
      this.#signal('SIGKILL');
      await exited;
    }
  }

  pause(): void {
    this.#signal('SIGSTOP');
  }

  resume(): void {
    this.#signal('SIGCONT');
  }

  async destroy(): Promise<void> {
    this.#destroyed = true;
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts the broker described by `spec` and resolves once it serves clients. */
export async function createOwnBroker(spec: BrokerSpec): Promise<OwnBrokerDetails> {
  const broker = new ProcessBroker(spec);
  try {
    await broker.start();
  } catch (err) {
    await broker.destroy();
    throw err;
  }
  return broker;
}
