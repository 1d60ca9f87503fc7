/**
 * Real brokers for the test suite.
 *
 * Each `ensure*` function makes one service available and returns its address plus a
 * `stop()` that stops only what this call started:
 *
 * - Kafka 4.2.1 (single-node KRaft) from Maven Central jars, on 127.0.0.1.
 * - Apicurio Registry 3.3.3 (Confluent-compatible API at /apis/ccompat/v7), on 127.0.0.1.
 * - NATS (JetStream), Redis and PostgreSQL, which this machine already runs; they are
 *   checked, and restarted with the machine's own commands when they have stopped.
 *
 * Every address can be overridden with an environment variable (see ENV below). When one
 * is set, that service is never started, only checked.
 *
 * Used by test/setup/global.ts (vitest globalSetup) and test/setup/cli.ts (npm run
 * brokers:up / brokers:down).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const KAFKA_VERSION = '4.2.1';
export const APICURIO_VERSION = '3.3.3';
/** Runs on Java 17; used only when no JDK >= 21 can be found. */
export const APICURIO_JAVA17_VERSION = '3.0.9';
const LOG4J_BOM_VERSION = '2.24.3';
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

export const DEFAULT_KAFKA_PORT = 39092;
export const DEFAULT_REGISTRY_PORT = 38081;

/** Environment variables that publish (or override) each address. */
export const ENV = {
  kafka: 'JOBBUS_KAFKA_BROKERS',
  registry: 'JOBBUS_REGISTRY_URL',
  nats: 'JOBBUS_NATS_URL',
  redis: 'JOBBUS_REDIS_URL',
  pg: 'JOBBUS_PG_URL',
} as const;
export type ServiceName = keyof typeof ENV;

export const DEFAULTS = {
  nats: 'nats://127.0.0.1:4222',
  redis: 'redis://127.0.0.1:6379',
  pg: 'postgres://postgres@127.0.0.1:5432/test',
} as const;

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BROKERS_DIR = path.join(REPO_ROOT, '.brokers');

const FIX_HINT = 'run through `npm test`, `npm run brokers:up`, or `docker compose up -d` with the JOBBUS_* variables from docker-compose.yml';

export interface Service {
  name: ServiceName;
  /** The value of the service's JOBBUS_* variable. */
  address: string;
  /** How the address was obtained. */
  origin: 'started' | 'running' | 'restarted' | 'env' | 'brokers:up';
  /** Process id of a process this setup started (Kafka, Apicurio). */
  pid?: number;
  /** Milliseconds spent making the service available. */
  ms: number;
  /** Stops what this setup started; a no-op otherwise. */
  stop(): Promise<void>;
}

export interface EnsureOptions {
  /** Folder for this run's logs, configs and Kafka data. */
  runDir: string;
  /** Keep started JVMs running after this process exits (npm run brokers:up). */
  detached?: boolean;
  /** Progress messages. */
  log?: (msg: string) => void;
  /** Environment to read overrides from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Addresses of brokers started by `npm run brokers:up`, reused instead of starting new ones. */
  reuse?: Partial<Record<ServiceName, string>>;
}

export class BrokerSetupError extends Error {
  override name = 'BrokerSetupError';
}

// ---------------------------------------------------------------------------
// small helpers

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JOBBUS_CACHE_DIR) return env.JOBBUS_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'jobbus');
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The last `lines` non-empty lines of a log file, for error messages. */
export function tail(file: string, lines = 25): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').filter((l) => l.trim() !== '').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface RunResult {
  code: number | null;
  output: string;
}

/** Runs a command to completion, collecting stdout+stderr. Never throws for a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    let output = '';
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      resolve({ code: -1, output: String(err) });
      return;
    }
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          output += `\n(timed out after ${opts.timeoutMs} ms)`;
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      resolve({ code: -1, output: output + String(err) });
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function preferredPort(port: number): Promise<number> {
  return (await portFree(port)) ? port : freePort();
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when `pid` is alive and its command line contains `marker` (guards against pid reuse). */
export function isProcess(pid: number, marker: string): boolean {
  if (!pidAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return true; // no /proc (macOS): trust the pid
  }
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
export async function killProcess(pid: number, graceMs = 5000): Promise<void> {
  if (!pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return;
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && pidAlive(pid); i++) await sleep(20);
}

/** A lock shared between processes (e.g. two test runs populating the same cache dir). */
async function withLock<T>(dir: string, fn: () => Promise<T>, log: (m: string) => void): Promise<T> {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 15 * 60_000;
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
      } catch {
        /* being created */
      }
      if (Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new BrokerSetupError(`timed out waiting for lock ${lock} (remove it if no other test run is active)`);
      if (!announced) {
        log(`waiting for another process preparing ${dir}`);
        announced = true;
      }
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Java and Maven

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

/** The JDK for Kafka (17+): JAVA_HOME, else `java` on the PATH. */
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

async function mvn(args: string[], cwd: string, what: string): Promise<string> {
  const r = await run('mvn', ['-B', '-ntp', ...args], { cwd, timeoutMs: 20 * 60_000 });
  if (r.code !== 0) {
    const why = r.code === -1 ? `could not run mvn (${r.output.trim()}); install Maven 3.8+` : r.output.split('\n').filter((l) => /ERROR|error:/.test(l)).slice(0, 15).join('\n') || r.output.slice(-3000);
    throw new BrokerSetupError(`${what}: Maven failed (exit ${r.code}):\n${why}`);
  }
  return r.output;
}

function kafkaPom(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by jobbus test/setup/brokers.ts: the Kafka ${KAFKA_VERSION} server jars for tests. -->
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.jobbus.test</groupId>
  <artifactId>kafka-server</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>org.apache.logging.log4j</groupId>
        <artifactId>log4j-bom</artifactId>
        <version>${LOG4J_BOM_VERSION}</version>
        <type>pom</type>
        <scope>import</scope>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <!-- Kafka still logs through slf4j-api 1.7: the 1.x binding, not log4j-slf4j2-impl -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.8.1</version>
        <configuration>
          <includeScope>runtime</includeScope>
          <outputDirectory>\${project.basedir}/libs</outputDirectory>
        </configuration>
      </plugin>
    </plugins>
  </build>
</project>
`;
}

/** The folder holding Kafka's jars; downloaded through Maven on first use, reused after. */
export async function prepareKafkaJars(log: (m: string) => void = () => {}): Promise<string> {
  const dir = path.join(cacheDir(), `kafka-${KAFKA_VERSION}`);
  const libs = path.join(dir, 'libs');
  const done = path.join(libs, '.complete');
  if (fs.existsSync(done)) return libs;
  return withLock(
    dir,
    async () => {
      if (fs.existsSync(done)) return libs;
      log(`fetching Kafka ${KAFKA_VERSION} jars from Maven Central into ${libs} (once)`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'pom.xml'), kafkaPom());
      fs.rmSync(libs, { recursive: true, force: true });
      await mvn(['-q', 'dependency:copy-dependencies'], dir, `fetching Kafka ${KAFKA_VERSION} jars`);
      const jars = fs.readdirSync(libs).filter((f) => f.endsWith('.jar'));
      if (!jars.some((j) => j.startsWith('kafka_2.13-'))) throw new BrokerSetupError(`Kafka jars missing in ${libs} after Maven ran`);
      fs.writeFileSync(done, `${jars.length} jars\n`);
      return libs;
    },
    log,
  );
}

/** Downloads one file from Maven Central (or JOBBUS_MAVEN_REPO_URL) and checks its SHA-1. */
async function downloadFromCentral(relPath: string, dest: string): Promise<void> {
  const base = (process.env.JOBBUS_MAVEN_REPO_URL || 'https://repo.maven.apache.org/maven2').replace(/\/+$/, '');
  const url = `${base}/${relPath}`;
  const sha1Res = await fetch(`${url}.sha1`);
  if (!sha1Res.ok) throw new BrokerSetupError(`GET ${url}.sha1 answered ${sha1Res.status}`);
  const expected = (await sha1Res.text()).trim().split(/\s+/)[0]!.toLowerCase();
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new BrokerSetupError(`GET ${url} answered ${res.status}`);
  const partial = `${dest}.partial`;
  const hash = createHash('sha1');
  const out = fs.createWriteStream(partial);
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  const actual = hash.digest('hex');
  if (actual !== expected) {
    fs.rmSync(partial, { force: true });
    throw new BrokerSetupError(`SHA-1 mismatch for ${url}: expected ${expected}, got ${actual}`);
  }
  fs.renameSync(partial, dest);
}

function findFile(dir: string, test: (name: string) => boolean, depth = 4): string | undefined {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
  for (const e of entries) if (e.isFile() && test(e.name)) return path.join(dir, e.name);
  if (depth > 0) {
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const found = findFile(path.join(dir, e.name), test, depth - 1);
      if (found) return found;
    }
  }
  return undefined;
}

function apicurioJar(dir: string): string | undefined {
  return findFile(dir, (n) => n === 'quarkus-run.jar') ?? findFile(dir, (n) => /^apicurio-registry-app-.*-runner\.jar$/.test(n));
}

/** The Apicurio runnable jar for `version`; downloaded and unpacked on first use. */
export async function prepareApicurio(version: string, log: (m: string) => void = () => {}): Promise<string> {
  const dir = path.join(cacheDir(), `apicurio-${version}`);
  const done = path.join(dir, '.complete');
  if (fs.existsSync(done)) {
    const jar = apicurioJar(dir);
    if (jar) return jar;
  }
  return withLock(
    dir,
    async () => {
      if (fs.existsSync(done)) {
        const jar = apicurioJar(dir);
        if (jar) return jar;
      }
      const coords = `io.apicurio:apicurio-registry-app:${version}:tar.gz:all`;
      log(`fetching Apicurio Registry ${version} (${coords}) from Maven Central (once)`);
      const work = path.join(cacheDir(), '.tmp');
      fs.mkdirSync(work, { recursive: true });
      const file = `apicurio-registry-app-${version}-all.tar.gz`;
      const repo = process.env.JOBBUS_M2_REPOSITORY ?? path.join(os.homedir(), '.m2', 'repository');
      let tarball = path.join(repo, 'io', 'apicurio', 'apicurio-registry-app', version, file);
      try {
        await mvn([`${DEPENDENCY_PLUGIN}:get`, `-Dartifact=${coords}`, '-Dtransitive=false'], work, `fetching Apicurio ${version}`);
        if (!fs.existsSync(tarball)) {
          throw new BrokerSetupError(`Apicurio tarball not found at ${tarball} after Maven ran (set JOBBUS_M2_REPOSITORY if your local repository is elsewhere)`);
        }
      } catch (err) {
        // 3.0.9's parent POM is missing from Maven Central, so Maven refuses the artifact
        // ("Failed to read artifact descriptor"); the tarball itself is there.
        if (!/artifact descriptor/i.test(errText(err))) throw err;
        tarball = path.join(work, file);
        log(`Maven cannot read the POM of ${coords}; downloading the tarball directly`);
        await downloadFromCentral(`io/apicurio/apicurio-registry-app/${version}/${file}`, tarball);
      }
      const staging = `${dir}.partial`;
      fs.rmSync(staging, { recursive: true, force: true });
      fs.mkdirSync(staging, { recursive: true });
      const r = await run('tar', ['-xzf', tarball, '-C', staging], { timeoutMs: 10 * 60_000 });
      if (r.code !== 0) throw new BrokerSetupError(`unpacking ${tarball} failed: ${r.output}`);
      if (!apicurioJar(staging)) throw new BrokerSetupError(`no quarkus-run.jar or *-runner.jar in ${tarball}`);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(staging, dir);
      if (tarball.startsWith(work)) fs.rmSync(tarball, { force: true });
      fs.writeFileSync(done, `${coords}\n`);
      return apicurioJar(dir)!;
    },
    log,
  );
}

// ---------------------------------------------------------------------------
// JVM processes

interface JvmProcess {
  pid: number;
  exited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
  stop(): Promise<void>;
}

function startJvm(java: string, args: string[], opts: { cwd: string; logFile: string; pidFile: string; detached: boolean }): JvmProcess {
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

async function waitFor(what: string, check: () => Promise<boolean> | boolean, proc: JvmProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
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
}

// ---------------------------------------------------------------------------
// Kafka

/** Kafka's Uuid.randomUuid(): 16 random bytes, base64url without padding, never starting with '-'. */
export function kafkaClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * server.properties of a single-node KRaft broker. `overrides` replace keys in place or are
 * appended (the chaos suite's own brokers set listeners, security and partitions this way);
 * without them the text is the shared test broker's.
 */
export function kafkaProperties(dataDir: string, port: number, cport: number, overrides: Record<string, string> = {}): string {
  const lines = [
    '# Generated by jobbus test/setup/brokers.ts: single-node KRaft for tests',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${cport}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cport}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cport}`,
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
  ];
  const rest = new Map(Object.entries(overrides));
  const out = lines.map((line) => {
    const key = line.startsWith('#') ? undefined : line.slice(0, line.indexOf('='));
    if (key === undefined || !rest.has(key)) return line;
    const value = rest.get(key)!;
    rest.delete(key);
    return `${key}=${value}`;
  });
  for (const [key, value] of rest) out.push(`${key}=${value}`);
  return [...out, ''].join('\n');
}

/** log4j2: WARN everywhere, except the line that says the broker is up. Goes to stdout = the log file. */
export function kafkaLog4j(): string {
  return [
    'status = warn',
    'name = jobbus-kafka',
    'appender.out.type = Console',
    'appender.out.name = OUT',
    'appender.out.layout.type = PatternLayout',
    'appender.out.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = WARN',
    'rootLogger.appenderRef.out.ref = OUT',
    'logger.started.name = kafka.server.KafkaRaftServer',
    'logger.started.level = INFO',
    'logger.started2.name = kafka.Kafka',
    'logger.started2.level = INFO',
    '',
  ].join('\n');
}

/** JVM flags for short-lived test brokers: small heap, serial GC, C1 only (fast start). */
export const JVM_FAST = ['-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];

/** A port another process took between our check and the JVM binding it. */
export const PORT_TAKEN = /BindException|Address already in use|seems to be in use/;

export async function startKafka(opts: EnsureOptions): Promise<Service> {
  const t0 = Date.now();
  const log = opts.log ?? (() => {});
  const [libs, jdk] = await Promise.all([prepareKafkaJars(log), kafkaJdk(opts.env)]);
  const dir = path.join(opts.runDir, 'kafka');
  const dataDir = path.join(dir, 'data');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true });
  const props = path.join(dir, 'server.properties');
  const log4j = path.join(dir, 'log4j2.properties');
  const logFile = path.join(dir, 'kafka.log');
  const cp = `${libs}/*`;
  // Format first; the listener ports are not part of what `format` writes, so they are
  // picked right before the broker starts (a smaller window for another process to take them).
  fs.writeFileSync(props, kafkaProperties(dataDir, DEFAULT_KAFKA_PORT, DEFAULT_KAFKA_PORT + 1));
  fs.writeFileSync(log4j, kafkaLog4j());
  const fmt = await run(
    jdk.java,
    [...JVM_FAST, '-cp', cp, `-Dlog4j2.configurationFile=${log4j}`, 'kafka.tools.StorageTool', 'format', '-t', kafkaClusterId(), '-c', props],
    { cwd: dir, timeoutMs: 120_000 },
  );
  if (fmt.code !== 0) throw new BrokerSetupError(`formatting Kafka's log dir failed (exit ${fmt.code}):\n${fmt.output.trim().split('\n').slice(-20).join('\n')}`);
  for (let attempt = 1; ; attempt++) {
    const port = attempt === 1 ? await preferredPort(DEFAULT_KAFKA_PORT) : await freePort();
    let cport = await freePort();
    while (cport === port) cport = await freePort();
    fs.writeFileSync(props, kafkaProperties(dataDir, port, cport));
    if (fs.existsSync(logFile)) fs.renameSync(logFile, `${logFile}.${attempt - 1}`);
    const proc = startJvm(jdk.java, [...JVM_FAST, `-Djobbus.run=${opts.runDir}`, '-cp', cp, `-Dlog4j2.configurationFile=${log4j}`, 'kafka.Kafka', props], {
      cwd: dir,
      logFile,
      pidFile: path.join(opts.runDir, 'kafka.pid'),
      detached: opts.detached ?? false,
    });
    try {
      await waitFor(`Kafka ${KAFKA_VERSION}`, () => fs.readFileSync(logFile, 'utf8').includes('Kafka Server started'), proc, logFile, 120_000);
    } catch (err) {
      if (attempt < 3 && PORT_TAKEN.test(tail(logFile, 200))) {
        await proc.stop();
        log(`Kafka: port ${port} or ${cport} was taken meanwhile; retrying on other ports`);
        continue;
      }
      throw err;
    }
    try {
      await warmUpKafka([`127.0.0.1:${port}`]);
    } catch (err) {
      await proc.stop();
      throw new BrokerSetupError(`Kafka started but does not answer kafkajs: ${errText(err)}; last log lines of ${logFile}:\n${tail(logFile)}`);
    }
    return {
      name: 'kafka',
      address: `127.0.0.1:${port}`,
      origin: 'started',
      pid: proc.pid,
      ms: Date.now() - t0,
      stop: () => proc.stop(),
    };
  }
}

/** Connects with kafkajs and reads the cluster metadata. */
export async function checkKafka(brokers: string[], timeoutMs = 10_000): Promise<void> {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ clientId: 'jobbus-setup-check', brokers, logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 2 } });
  const admin = kafka.admin();
  try {
    await withTimeout(
      (async () => {
        await admin.connect();
        await admin.describeCluster();
      })(),
      timeoutMs,
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Makes the fresh broker create __consumer_offsets now (a group coordinator lookup does), so
 * the first consumer group of the tests does not wait for it.
 */
async function warmUpKafka(brokers: string[]): Promise<void> {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ clientId: 'jobbus-setup-warmup', brokers, logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 500 } });
  const admin = kafka.admin();
  try {
    await withTimeout(
      (async () => {
        await admin.connect();
        await admin.describeGroups(['jobbus-setup-warmup']);
      })(),
      30_000,
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

// ---------------------------------------------------------------------------
// Apicurio Registry

export async function startRegistry(opts: EnsureOptions): Promise<Service> {
  const t0 = Date.now();
  const log = opts.log ?? (() => {});
  const jdk = await registryJdk(opts.env);
  const version = jdk.major >= 21 ? APICURIO_VERSION : APICURIO_JAVA17_VERSION;
  if (version !== APICURIO_VERSION) log(`no JDK >= 21 found (set JOBBUS_JAVA21_HOME); using Apicurio ${version} on Java ${jdk.major}`);
  const jar = await prepareApicurio(version, log);
  const dir = path.join(opts.runDir, 'registry');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const logFile = path.join(dir, 'registry.log');
  for (let attempt = 1; ; attempt++) {
    const port = attempt === 1 ? await preferredPort(DEFAULT_REGISTRY_PORT) : await freePort();
    let managementPort = await freePort();
    while (managementPort === port) managementPort = await freePort();
    if (fs.existsSync(logFile)) fs.renameSync(logFile, `${logFile}.${attempt - 1}`);
    const proc = startJvm(
      jdk.java,
      [
        '-Xmx512m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        `-Djobbus.run=${opts.runDir}`,
        '-Dquarkus.http.host=127.0.0.1',
        `-Dquarkus.http.port=${port}`,
        '-Dquarkus.management.host=127.0.0.1',
        `-Dquarkus.management.port=${managementPort}`,
        '-Dapicurio.rules.global.compatibility=BACKWARD',
        '-jar',
        jar,
      ],
      { cwd: dir, logFile, pidFile: path.join(opts.runDir, 'registry.pid'), detached: opts.detached ?? false },
    );
    const url = `http://127.0.0.1:${port}/apis/ccompat/v7`;
    try {
      await waitFor(`Apicurio Registry ${version} (${jdk.java}, Java ${jdk.major})`, () => registryAnswers(url, 1000), proc, logFile, 180_000);
    } catch (err) {
      if (attempt < 3 && PORT_TAKEN.test(tail(logFile, 200))) {
        await proc.stop();
        log(`Apicurio: port ${port} or ${managementPort} was taken meanwhile; retrying on other ports`);
        continue;
      }
      throw err;
    }
    return { name: 'registry', address: url, origin: 'started', pid: proc.pid, ms: Date.now() - t0, stop: () => proc.stop() };
  }
}

async function registryAnswers(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(`${url.replace(/\/+$/, '')}/subjects`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

export async function checkRegistry(url: string, timeoutMs = 10_000): Promise<void> {
  const res = await fetch(`${url.replace(/\/+$/, '')}/subjects`, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await res.text();
  if (!res.ok) throw new Error(`GET ${url}/subjects answered ${res.status}: ${body.slice(0, 200)}`);
}

// ---------------------------------------------------------------------------
// NATS, Redis, PostgreSQL (already installed on the machine)

/** Rejects with "no answer within <ms> ms" when `p` does not settle in time. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]);
}

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
  const cmds = svc.restart();
  const notes: string[] = [];
  if (cmds.length === 0) notes.push('no restart command known on this machine');
  for (const [cmd, args] of cmds) {
    log(`${svc.label} does not answer at ${url} (${errText(firstError)}); restarting: ${cmd} ${args.join(' ')}`);
    const r = await run(cmd, args, { timeoutMs: 60_000 });
    if (r.code !== 0) notes.push(`\`${cmd} ${args.join(' ')}\` failed (exit ${r.code}): ${r.output.trim().slice(0, 500)}`);
  }
  const deadline = Date.now() + 30_000;
  let lastError: unknown = firstError;
  while (cmds.length > 0 && Date.now() < deadline) {
    await sleep(300);
    try {
      await svc.check(url);
      return done('restarted');
    } catch (err) {
      lastError = err;
    }
  }
  throw new BrokerSetupError(
    `${svc.label} did not answer at ${url}: ${errText(lastError)}` +
      (notes.length ? `\n${notes.join('\n')}` : '') +
      `\nStart it (${svc.dockerHint}) or set ${ENV[svc.name]} to one that runs, e.g. from \`docker compose up -d\`.`,
  );
}

/** An error's message with its causes, for one-line reports. */
export function errText(err: unknown): string {
  if (err instanceof AggregateError) return err.errors.map(errText).join('; ') || err.message;
  if (err instanceof Error) {
    const msg = err.message || err.name;
    return err.cause instanceof Error && !msg.includes(err.cause.message) ? `${msg} (${errText(err.cause)})` : msg;
  }
  return String(err);
}

// ---------------------------------------------------------------------------
// Kafka and the registry: reuse, override or start

export async function ensureKafka(opts: EnsureOptions): Promise<Service> {
  const t0 = Date.now();
  const env = opts.env ?? process.env;
  const override = env[ENV.kafka];
  const reuse = opts.reuse?.kafka;
  const given = override || reuse;
  if (given) {
    const brokers = given.split(',').map((b) => b.trim()).filter(Boolean);
    try {
      await checkKafka(brokers);
    } catch (err) {
      throw new BrokerSetupError(
        override
          ? `Kafka at ${ENV.kafka}=${override} does not answer: ${errText(err)}`
          : `Kafka from \`npm run brokers:up\` (${reuse}) does not answer: ${errText(err)}; run \`npm run brokers:down\` and retry`,
      );
    }
    return { name: 'kafka', address: brokers.join(','), origin: override ? 'env' : 'brokers:up', ms: Date.now() - t0, stop: async () => {} };
  }
  try {
    return await startKafka(opts);
  } catch (err) {
    throw new BrokerSetupError(
      `Kafka ${KAFKA_VERSION} did not start: ${errText(err)}\n` +
        `Fix: make Java 17+ and Maven (with access to Maven Central) available, or set ${ENV.kafka}=host:port to use your own cluster (e.g. \`docker compose up -d kafka\` and ${ENV.kafka}=127.0.0.1:${DEFAULT_KAFKA_PORT}).`,
    );
  }
}

export async function ensureRegistry(opts: EnsureOptions): Promise<Service> {
  const t0 = Date.now();
  const env = opts.env ?? process.env;
  const override = env[ENV.registry];
  const reuse = opts.reuse?.registry;
  const given = override || reuse;
  if (given) {
    try {
      await checkRegistry(given);
    } catch (err) {
      throw new BrokerSetupError(
        override
          ? `schema registry at ${ENV.registry}=${override} does not answer: ${errText(err)} (it must be the Confluent-compatible base, e.g. http://127.0.0.1:${DEFAULT_REGISTRY_PORT}/apis/ccompat/v7)`
          : `schema registry from \`npm run brokers:up\` (${reuse}) does not answer: ${errText(err)}; run \`npm run brokers:down\` and retry`,
      );
    }
    return { name: 'registry', address: given.replace(/\/+$/, ''), origin: override ? 'env' : 'brokers:up', ms: Date.now() - t0, stop: async () => {} };
  }
  try {
    return await startRegistry(opts);
  } catch (err) {
    throw new BrokerSetupError(
      `Apicurio Registry did not start: ${errText(err)}\n` +
        `Fix: make a JDK >= 21 available (JOBBUS_JAVA21_HOME or JAVA_HOME) and Maven, or set ${ENV.registry} to a Confluent-compatible registry ` +
        `(e.g. \`docker compose up -d registry\` and ${ENV.registry}=http://127.0.0.1:${DEFAULT_REGISTRY_PORT}/apis/ccompat/v7).`,
    );
  }
}

export const ensureNats = (opts: EnsureOptions) => ensureLocal(LOCAL.nats, opts);
export const ensureRedis = (opts: EnsureOptions) => ensureLocal(LOCAL.redis, opts);
export const ensurePostgres = (opts: EnsureOptions) => ensureLocal(LOCAL.pg, opts);

export interface Brokers {
  services: Record<ServiceName, Service>;
  /** JOBBUS_* variable -> address. */
  env: Record<string, string>;
  /** Stops everything this call started (in parallel). */
  stop(): Promise<void>;
}

/**
 * Makes all five services available, in parallel. If any fails, stops what was started and
 * throws one error listing every failure.
 */
export async function ensureAll(opts: EnsureOptions): Promise<Brokers> {
  fs.mkdirSync(opts.runDir, { recursive: true });
  const names: ServiceName[] = ['kafka', 'registry', 'nats', 'redis', 'pg'];
  const fns: Record<ServiceName, (o: EnsureOptions) => Promise<Service>> = {
    kafka: ensureKafka,
    registry: ensureRegistry,
    nats: ensureNats,
    redis: ensureRedis,
    pg: ensurePostgres,
  };
  const results = await Promise.allSettled(names.map((n) => fns[n](opts)));
  const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failed.length > 0) {
    await Promise.allSettled(ok.map((s) => s.stop()));
    throw new BrokerSetupError(
      `jobbus test brokers: ${failed.length} service(s) unavailable, tests cannot run.\n\n` + failed.map((e) => `- ${errText(e)}`).join('\n\n') + `\n\n(${FIX_HINT})`,
    );
  }
  const services = Object.fromEntries(ok.map((s) => [s.name, s])) as Record<ServiceName, Service>;
  const env = Object.fromEntries(ok.map((s) => [ENV[s.name], s.address]));
  return {
    services,
    env,
    stop: async () => {
      await Promise.allSettled(ok.map((s) => s.stop()));
    },
  };
}

export function describe(b: Brokers): string {
  return (Object.values(b.services) as Service[])
    .map((s) => `${s.name} ${s.address} (${s.origin}${s.origin === 'started' || s.origin === 'restarted' ? `, ${(s.ms / 1000).toFixed(1)} s` : ''})`)
    .join('; ');
}

// ---------------------------------------------------------------------------
// `npm run brokers:up` state in .brokers/

export const UP_ENV_FILE = path.join(BROKERS_DIR, 'env');
export const UP_PIDS: Record<'kafka' | 'registry', { file: string; marker: string }> = {
  kafka: { file: path.join(BROKERS_DIR, 'kafka.pid'), marker: 'kafka.Kafka' },
  registry: { file: path.join(BROKERS_DIR, 'registry.pid'), marker: 'apicurio' },
};

export function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Parses `export NAME=value` lines. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!.trim();
    if ((value.startsWith("'") && value.endsWith("'")) || (value.startsWith('"') && value.endsWith('"'))) value = value.slice(1, -1);
    out[m[1]!] = value;
  }
  return out;
}

/** Addresses of Kafka/registry from a live `npm run brokers:up`, if any. */
export function readUpState(): Partial<Record<ServiceName, string>> {
  if (!fs.existsSync(UP_ENV_FILE)) return {};
  const vars = parseEnvFile(fs.readFileSync(UP_ENV_FILE, 'utf8'));
  const out: Partial<Record<ServiceName, string>> = {};
  for (const name of ['kafka', 'registry'] as const) {
    const pid = readPid(UP_PIDS[name].file);
    const value = vars[ENV[name]];
    if (pid && value && isProcess(pid, UP_PIDS[name].marker)) out[name] = value;
  }
  return out;
}

/**
 * Removes run dirs of earlier test runs whose owner process is gone, killing any JVM they
 * left behind (a test run that was killed with SIGKILL cannot clean up after itself).
 */
export async function pruneStaleRuns(runsDir: string): Promise<void> {
  let entries: string[];
  try {
    entries = fs.readdirSync(runsDir);
  } catch {
    return;
  }
  await Promise.all(
    entries.map(async (name) => {
      const dir = path.join(runsDir, name);
      const owner = readPid(path.join(dir, 'owner.pid'));
      if (owner && pidAlive(owner)) return;
      for (const sub of ['kafka', 'registry']) {
        const pid = readPid(path.join(dir, `${sub}.pid`));
        if (pid && isProcess(pid, `-Djobbus.run=${dir}`)) await killProcess(pid, 3000);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }),
  );
}
