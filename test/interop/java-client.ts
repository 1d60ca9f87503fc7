/**
 * The non-Node registry client of the interop tests: test/interop/java/JobbusInterop.java,
 * compiled once against the Apicurio Avro serde's jars (test/setup/serde.ts) with the JDK that
 * runs Kafka, cached by the source's hash, then run as one short-lived JVM per call.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrokerSetupError } from '../setup/config.js';
import { kafkaJdk } from '../setup/jdk.js';
import { withLock } from '../setup/maven.js';
import { cacheDir, secs, stderrLog } from '../setup/process.js';
import { prepareSerdeJars } from '../setup/serde.js';

const SOURCE = fileURLToPath(new URL('./java/JobbusInterop.java', import.meta.url));
const MAIN_CLASS = 'JobbusInterop';
/** Start fast: the JVM runs for a second or two. */
const JVM_FLAGS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto'];
const CALL_TIMEOUT_MS = 60_000;

/** A Kafka record the Java client writes with the serde as its value serializer. */
export interface JavaSend {
  /** Registry subject whose latest schema the record is written with. */
  subject: string;
  /** Avro JSON encoding of the record (a union value is wrapped as `{"type": value}`). */
  record: unknown;
  topic: string;
  /** Message key; none when empty or absent. */
  key?: string;
  headers: Record<string, string>;
}

/** The Java client, bound to one registry. */
export interface JavaClient {
  /** The serde's bytes for `record` (Avro JSON) under the latest version of `subject`. */
  produce(subject: string, record: unknown): Promise<Buffer>;
  /** The record the serde reads from `bytes`, as Avro JSON. */
  consume(bytes: Buffer): Promise<unknown>;
  /** Writes one Kafka record (acks=all) and says where it landed. */
  send(brokers: string[], msg: JavaSend): Promise<{ partition: number; offset: string }>;
}

interface Compiled {
  java: string;
  classpath: string;
}

/** Compiles the client into the cache (once per source and serde version) and says how to run it. */
async function compile(log: (m: string) => void): Promise<Compiled> {
  const libs = await prepareSerdeJars(log);
  const jdk = await kafkaJdk();
  const bin = (tool: string): string => (jdk.home ? path.join(jdk.home, 'bin', tool) : tool);
  const source = fs.readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).update(libs).update(String(jdk.major)).digest('hex').slice(0, 16);
  const dir = path.join(cacheDir(), 'interop-client', hash);
  const done = path.join(dir, '.complete');
  const result = { java: bin('java'), classpath: `${dir}${path.delimiter}${path.join(libs, '*')}` };
  if (fs.existsSync(done)) return result;
  return withLock(
    dir,
    async () => {
      if (fs.existsSync(done)) return result;
      const t0 = Date.now();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      await exec(bin('javac'), ['-d', dir, '-cp', path.join(libs, '*'), SOURCE], `javac ${path.basename(SOURCE)}`);
      fs.writeFileSync(done, `${SOURCE}\n`);
      log(`interop client compiled with Java ${jdk.major} in ${secs(Date.now() - t0)} into ${dir}`);
      return result;
    },
    log,
  );
}

/** Runs a command; resolves with its stdout, rejects with its stderr's tail on failure. */
function exec(cmd: string, args: string[], what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: CALL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      // The exception and its causes, without stack frames or SLF4J's "no providers" notice
      // (the serde logs through slf4j-api alone).
      const why = stderr
        .split('\n')
        .filter((l) => l.trim() && !l.startsWith('SLF4J') && !/^\s+(at |\.\.\. \d+ more)/.test(l))
        .slice(-20)
        .join('\n');
      reject(new BrokerSetupError(`${what} failed (${err.code ?? err.signal ?? err.message}):\n${why || stdout}`, { cause: err }));
    });
  });
}

/**
 * The Java client for the registry at `registryUrl` (its Confluent-compatible URL). The first
 * call downloads the serde (progress on stderr) and compiles the client.
 */
export async function javaClient(registryUrl: string, log: (m: string) => void = stderrLog): Promise<JavaClient> {
  const { java, classpath } = await compile(log);
  const call = (args: string[]): Promise<string> => exec(java, [...JVM_FLAGS, '-cp', classpath, MAIN_CLASS, ...args], `java ${MAIN_CLASS} ${args[0]}`);
  return {
    async produce(subject, record) {
      const hex = (await call(['produce', registryUrl, subject, JSON.stringify(record)])).trim();
      return Buffer.from(hex, 'hex');
    },
    async consume(bytes) {
      return JSON.parse(await call(['consume', registryUrl, bytes.toString('hex')])) as unknown;
    },
    async send(brokers, msg) {
      const out = await call(['send', registryUrl, msg.subject, JSON.stringify(msg.record), brokers.join(','), msg.topic, msg.key ?? '', JSON.stringify(msg.headers)]);
      const [partition, offset] = out.trim().split(' ');
      return { partition: Number(partition), offset: offset ?? '' };
    },
  };
}
