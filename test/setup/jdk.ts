/**
 * Java for the brokers: which JDK runs Kafka (17+) and Apicurio (21+, else 3.0.9 on 17), and
 * the JVM processes themselves (started with a pid file, waited for until they answer).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { APICURIO_VERSION, BrokerSetupError, ENV, KAFKA_VERSION } from './config.js';
import { heartbeat, killProcess, run, secs, sleep, tail } from './process.js';

/** A JDK found on this machine. */
export interface Jdk {
  java: string;
  major: number;
  home: string;
}

function jdkMajor(home: string): number {
  try {
    const release = fs.readFileSync(path.join(home, 'release'), 'utf8');
    const m = /JAVA_VERSION="(\d+)(?:\.(\d+))?/.exec(release);
    if (m) return m[1] === '1' && m[2] ? Number(m[2]) : Number(m[1]);
  } catch {
    /* fall through */
  }
  return 0;
}

async function jdkMajorFromBinary(java: string): Promise<number> {
  const r = await run(java, ['-version'], { timeoutMs: 20_000 });
  const m = /version "(\d+)(?:\.(\d+))?/.exec(r.output);
  if (!m) return 0;
  return m[1] === '1' && m[2] ? Number(m[2]) : Number(m[1]);
}

async function jdkAt(home: string): Promise<Jdk | undefined> {
  const java = path.join(home, 'bin', 'java');
  if (!fs.existsSync(java)) return undefined;
  const major = jdkMajor(home) || (await jdkMajorFromBinary(java));
  return major ? { java, major, home } : undefined;
}

/** The JDK for Kafka (17+): JAVA_HOME, else `java` on the PATH, else the newest under /usr/lib/jvm. */
export async function kafkaJdk(env: NodeJS.ProcessEnv = process.env): Promise<Jdk> {
  if (env.JAVA_HOME) {
    const jdk = await jdkAt(env.JAVA_HOME);
    if (jdk && jdk.major >= 17) return jdk;
  }
  const major = await jdkMajorFromBinary('java');
  if (major >= 17) return { java: 'java', major, home: '' };
  // PATH java missing or too old: any JDK >= 17 under /usr/lib/jvm
  const newest = await newestJdk(17);
  if (newest) return newest;
  throw new BrokerSetupError(
    `Kafka ${KAFKA_VERSION} needs Java 17 or newer, found ${major ? `Java ${major}` : 'no java'} (set JAVA_HOME), ` +
      `or set ${ENV.kafka} to use your own cluster`,
  );
}

async function newestJdk(minMajor: number): Promise<Jdk | undefined> {
  const root = process.env.JOBBUS_JDK_SEARCH_DIR || '/usr/lib/jvm';
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return undefined;
  }
  // temurin-* first (the machine's documented location), then anything else
  entries.sort((a, b) => Number(b.startsWith('temurin-')) - Number(a.startsWith('temurin-')));
  let best: Jdk | undefined;
  for (const name of entries) {
    const home = path.join(root, name);
    try {
      if (fs.lstatSync(home).isSymbolicLink()) continue;
    } catch {
      continue;
    }
    const jdk = await jdkAt(home);
    if (jdk && jdk.major >= minMajor && (!best || jdk.major > best.major)) best = jdk;
  }
  return best;
}

/**
 * The JDK for Apicurio 3.3 (21+): JOBBUS_JAVA21_HOME, else JAVA_HOME if >= 21, else the
 * newest JDK under /usr/lib/jvm (or JOBBUS_JDK_SEARCH_DIR; temurin-* preferred). Falls back to a 17 JDK (for Apicurio
 * 3.0.9) only when no JDK >= 21 exists.
 */
export async function registryJdk(env: NodeJS.ProcessEnv = process.env): Promise<Jdk> {
  if (env.JOBBUS_JAVA21_HOME) {
    const jdk = await jdkAt(env.JOBBUS_JAVA21_HOME);
    if (!jdk) throw new BrokerSetupError(`JOBBUS_JAVA21_HOME=${env.JOBBUS_JAVA21_HOME} has no bin/java`);
    if (jdk.major < 21) throw new BrokerSetupError(`JOBBUS_JAVA21_HOME=${env.JOBBUS_JAVA21_HOME} is Java ${jdk.major}; Apicurio ${APICURIO_VERSION} needs 21+`);
    return jdk;
  }
  if (env.JAVA_HOME) {
    const jdk = await jdkAt(env.JAVA_HOME);
    if (jdk && jdk.major >= 21) return jdk;
  }
  const newest = await newestJdk(21);
  if (newest) return newest;
  const pathMajor = await jdkMajorFromBinary('java');
  if (pathMajor >= 21) return { java: 'java', major: pathMajor, home: '' };
  return kafkaJdk(env); // Java 17: Apicurio 3.0.9
}

/** JVM flags for short-lived test brokers: small heap, serial GC, C1 only (fast start). */
export const JVM_FAST = ['-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];

/** A JVM this setup started. */
export interface JvmProcess {
  pid: number;
  /** How it exited, once it has (a failed spawn counts as exit code -1). */
  exited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
  stop(): Promise<void>;
}

/**
 * Start a JVM logging to `logFile`, its pid in `pidFile`. Not detached: killed when this
 * process exits. Detached (brokers:up): outlives it.
 */
export function startJvm(java: string, args: string[], opts: { cwd: string; logFile: string; pidFile: string; detached: boolean }): JvmProcess {
  const fd = fs.openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(java, args, { cwd: opts.cwd, stdio: ['ignore', fd, fd], detached: opts.detached });
  } finally {
    fs.closeSync(fd);
  }
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  child.on('error', (err) => {
    spawnError = err;
    exit = { code: -1, signal: null };
    fs.appendFileSync(opts.logFile, `\nfailed to start ${java}: ${err.message}\n`);
  });
  child.on('exit', (code, signal) => (exit = { code, signal }));
  if (opts.detached) child.unref();
  const pid = child.pid ?? -1;
  if (pid > 0) fs.writeFileSync(opts.pidFile, `${pid}\n`);
  const onExit = () => {
    if (!opts.detached && exit === undefined && pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  if (!opts.detached) process.once('exit', onExit);
  return {
    pid,
    exited: () => (spawnError ? { code: -1, signal: null } : exit),
    async stop() {
      process.off('exit', onExit);
      if (pid > 0 && exit === undefined) await killProcess(pid);
    },
  };
}

/**
 * Poll `check` until the JVM answers; fail with its log's tail if it exits or `timeoutMs`
 * passes (then it is stopped). Says on `log` that it waits, and every 10 s how long so far.
 */
export async function waitForJvm(
  what: string,
  check: () => Promise<boolean> | boolean,
  proc: JvmProcess,
  logFile: string,
  timeoutMs: number,
  log: (msg: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  log(`${what}: started (pid ${proc.pid}), waiting until it answers (up to ${timeoutMs / 1000} s; log: ${logFile})`);
  const stopBeat = heartbeat(10_000, (ms) => log(`${what}: still waiting after ${secs(ms)} of up to ${timeoutMs / 1000} s`));
  try {
    for (;;) {
      const exit = proc.exited();
      if (exit) {
        throw new BrokerSetupError(`${what} exited during startup (code ${exit.code}${exit.signal ? `, ${exit.signal}` : ''}); last log lines of ${logFile}:\n${tail(logFile)}`);
      }
      if (await check()) return;
      if (Date.now() > deadline) {
        await proc.stop();
        throw new BrokerSetupError(`${what} not ready after ${timeoutMs / 1000} s; last log lines of ${logFile}:\n${tail(logFile)}`);
      }
      await sleep(100);
    }
  } finally {
    stopBeat();
  }
}
