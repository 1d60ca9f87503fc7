/**
 * What the brokers are made of, fetched once from Maven Central and cached (cacheDir()):
 * Kafka's jars through Maven, Apicurio's tarball through Maven (or directly). Every download
 * says on stderr what it fetches, from where, and how far it got every few seconds.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BrokerSetupError, KAFKA_VERSION } from './config.js';
import { cacheDir, errText, heartbeat, megabytes, pidAlive, run, secs, sleep, stderrLog } from './process.js';

const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
const LOG4J_BOM_VERSION = '2.24.3';
const CENTRAL = 'https://repo.maven.apache.org/maven2';
/** How often a download in progress reports. */
const PROGRESS_EVERY_MS = 5_000;

/** A lock shared between processes (e.g. two test runs populating the same cache dir). */
export async function withLock<T>(dir: string, fn: () => Promise<T>, log: (m: string) => void): Promise<T> {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 15 * 60_000;
  let stopBeat: (() => void) | undefined;
  try {
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
        if (!stopBeat) {
          log(`waiting for another process (pid ${owner}) preparing ${dir}`);
          stopBeat = heartbeat(10_000, (ms) => log(`still waiting for ${lock} after ${secs(ms)} (pid ${owner})`));
        }
        await sleep(500);
      }
    }
  } finally {
    stopBeat?.();
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

const SIZE_UNITS: Record<string, number> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9 };

/**
 * Counts what Maven downloaded from its transfer lines ("Downloaded from central: <url>
 * (5.2 MB at 3 MB/s)"), which it prints in batch mode without -q / -ntp.
 */
function transferCounter() {
  const state = { files: 0, bytes: 0, from: '', current: '' };
  let pending = '';
  const line = (l: string): void => {
    const m = /Download(ing|ed) from ([^:]+): (\S+)(?: \((\d+(?:\.\d+)?) (B|kB|KB|MB|GB))?/.exec(l);
    if (!m) return;
    state.from ||= `${m[2]} (${new URL(m[3]!).origin})`;
    if (m[1] === 'ing') state.current = path.basename(m[3]!);
    else {
      state.files++;
      state.bytes += Number(m[4] ?? 0) * (SIZE_UNITS[m[5] ?? 'B'] ?? 1);
    }
  };
  return {
    state,
    feed(chunk: string): void {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(line);
    },
  };
}

/** Bytes of the partial (`.part`) files in `dir`: a big single download's progress. */
function partialBytes(dir: string | undefined): number {
  if (!dir) return 0;
  try {
    return fs
      .readdirSync(dir)
      .filter((f) => /\.part/.test(f))
      .reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
  } catch {
    return 0;
  }
}

/**
 * Run Maven (batch mode, transfer lines on) for `what`, reporting every few seconds how many
 * files and megabytes it downloaded and from where. `watchDir`: where a big single file
 * lands, to report its partial size too.
 */
export async function mvn(args: string[], cwd: string, what: string, log: (m: string) => void, watchDir?: string): Promise<string> {
  const counter = transferCounter();
  const s = counter.state;
  const stopBeat = heartbeat(PROGRESS_EVERY_MS, (ms) => {
    const partial = partialBytes(watchDir);
    const now = s.current ? `; now ${s.current}${partial ? ` (${megabytes(partial)} so far)` : ''}` : '';
    log(`${what}: ${s.files} files, ${megabytes(s.bytes)} downloaded${s.from ? ` from ${s.from}` : ''} in ${secs(ms)}${now}`);
  });
  const t0 = Date.now();
  const r = await run('mvn', ['-B', ...args], { cwd, timeoutMs: 20 * 60_000, onOutput: (c) => counter.feed(c) }).finally(stopBeat);
  if (r.code !== 0) {
    const why = r.code === -1 ? `could not run mvn (${r.output.trim()}); install Maven 3.8+` : r.output.split('\n').filter((l) => /ERROR|error:/.test(l)).slice(0, 15).join('\n') || r.output.slice(-3000);
    throw new BrokerSetupError(`${what}: Maven failed (exit ${r.code}):\n${why}`);
  }
  if (s.files > 0) log(`${what}: Maven downloaded ${s.files} files, ${megabytes(s.bytes)}${s.from ? ` from ${s.from}` : ''} in ${secs(Date.now() - t0)}`);
  return r.output;
}

/** Total size of the files directly in `dir`. */
export function dirBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
}

/** What {@link classpathPom} puts into a POM: its comment, coordinates and XML blocks. */
export interface ClasspathPomSpec {
  /** Line of the `<!-- Generated by … -->` comment (after "Generated by "). */
  readonly generatedBy: string;
  readonly artifactId: string;
  readonly version: string;
  /** `<dependencyManagement>` block (indented two spaces), if any. */
  readonly dependencyManagement?: string;
  /** The `<dependency>` elements (indented four spaces). */
  readonly dependencies: string;
}

/** A POM whose runtime dependencies are a classpath, copied into `libs/` by the dependency plugin. */
export function classpathPom(p: ClasspathPomSpec): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by ${p.generatedBy} -->
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.jobbus.test</groupId>
  <artifactId>${p.artifactId}</artifactId>
  <version>${p.version}</version>
  <packaging>pom</packaging>
${p.dependencyManagement ?? ''}  <dependencies>
${p.dependencies}  </dependencies>
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

/** The POM whose dependencies are the Kafka server's runtime jars (copied into libs/). */
function kafkaPom(): string {
  return classpathPom({
    generatedBy: `jobbus test/setup/maven.ts: the Kafka ${KAFKA_VERSION} server jars for tests.`,
    artifactId: 'kafka-server',
    version: KAFKA_VERSION,
    dependencyManagement: `  <dependencyManagement>
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
`,
    dependencies: `    <dependency>
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
`,
  });
}

/** The folder holding Kafka's jars; downloaded through Maven on first use (about 45 MB), reused after. */
export async function prepareKafkaJars(log: (m: string) => void = stderrLog): Promise<string> {
  const dir = path.join(cacheDir(), `kafka-${KAFKA_VERSION}`);
  const libs = path.join(dir, 'libs');
  const done = path.join(libs, '.complete');
  if (fs.existsSync(done)) return libs;
  return withLock(
    dir,
    async () => {
      if (fs.existsSync(done)) return libs;
      log(`first run: fetching Kafka ${KAFKA_VERSION} jars (about 45 MB) through Maven (Maven Central unless ~/.m2/settings.xml names a mirror) into ${libs}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'pom.xml'), kafkaPom());
      fs.rmSync(libs, { recursive: true, force: true });
      await mvn(['dependency:copy-dependencies'], dir, `fetching Kafka ${KAFKA_VERSION} jars`, log);
      const jars = fs.readdirSync(libs).filter((f) => f.endsWith('.jar'));
      if (!jars.some((j) => j.startsWith('kafka_2.13-'))) throw new BrokerSetupError(`Kafka jars missing in ${libs} after Maven ran`);
      fs.writeFileSync(done, `${jars.length} jars\n`);
      log(`Kafka ${KAFKA_VERSION}: ${jars.length} jars, ${megabytes(dirBytes(libs))} in ${libs}`);
      return libs;
    },
    log,
  );
}

/** Downloads one file from Maven Central (or JOBBUS_MAVEN_REPO_URL), reporting progress, and checks its SHA-1. */
async function downloadFromCentral(relPath: string, dest: string, log: (m: string) => void): Promise<void> {
  const base = (process.env.JOBBUS_MAVEN_REPO_URL || CENTRAL).replace(/\/+$/, '');
  const url = `${base}/${relPath}`;
  const sha1Res = await fetch(`${url}.sha1`);
  if (!sha1Res.ok) throw new BrokerSetupError(`GET ${url}.sha1 answered ${sha1Res.status}`);
  const expected = (await sha1Res.text()).trim().split(/\s+/)[0]!.toLowerCase();
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new BrokerSetupError(`GET ${url} answered ${res.status}`);
  const total = Number(res.headers.get('content-length') ?? 0);
  const of = total ? ` of ${megabytes(total)}` : '';
  log(`downloading ${url}${total ? ` (${megabytes(total)})` : ''} to ${dest}`);
  const partial = `${dest}.partial`;
  const hash = createHash('sha1');
  const out = fs.createWriteStream(partial);
  let got = 0;
  const stopBeat = heartbeat(PROGRESS_EVERY_MS, (ms) => log(`downloading ${path.basename(dest)}: ${megabytes(got)}${of} in ${secs(ms)}`));
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      got += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
  } finally {
    stopBeat();
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

/** The Apicurio runnable jar for `version`; downloaded (about 160 MB) and unpacked on first use. */
export async function prepareApicurio(version: string, log: (m: string) => void = stderrLog): Promise<string> {
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
      log(`first run: fetching Apicurio Registry ${version} (${coords}, about 160 MB) through Maven (Maven Central unless ~/.m2/settings.xml names a mirror)`);
      const work = path.join(cacheDir(), '.tmp');
      fs.mkdirSync(work, { recursive: true });
      const file = `apicurio-registry-app-${version}-all.tar.gz`;
      const repo = process.env.JOBBUS_M2_REPOSITORY ?? path.join(os.homedir(), '.m2', 'repository');
      const artifactDir = path.join(repo, 'io', 'apicurio', 'apicurio-registry-app', version);
      let tarball = path.join(artifactDir, file);
      try {
        await mvn([`${DEPENDENCY_PLUGIN}:get`, `-Dartifact=${coords}`, '-Dtransitive=false'], work, `fetching Apicurio ${version}`, log, artifactDir);
        if (!fs.existsSync(tarball)) {
          throw new BrokerSetupError(`Apicurio tarball not found at ${tarball} after Maven ran (set JOBBUS_M2_REPOSITORY if your local repository is elsewhere)`);
        }
      } catch (err) {
        // 3.0.9's parent POM is missing from Maven Central, so Maven refuses the artifact
        // ("Failed to read artifact descriptor"); the tarball itself is there.
        if (!/artifact descriptor/i.test(errText(err))) throw err;
        tarball = path.join(work, file);
        log(`Maven cannot read the POM of ${coords}; downloading the tarball directly`);
        await downloadFromCentral(`io/apicurio/apicurio-registry-app/${version}/${file}`, tarball, log);
      }
      await unpackApicurio(tarball, dir, log);
      if (tarball.startsWith(work)) fs.rmSync(tarball, { force: true });
      fs.writeFileSync(done, `${coords}\n`);
      return apicurioJar(dir)!;
    },
    log,
  );
}

/** Unpack the Apicurio tarball into `dir` through a staging folder, so a half-unpacked dir never counts. */
async function unpackApicurio(tarball: string, dir: string, log: (m: string) => void): Promise<void> {
  const staging = `${dir}.partial`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  log(`unpacking ${tarball} (${megabytes(fs.statSync(tarball).size)}) into ${dir}`);
  const r = await run('tar', ['-xzf', tarball, '-C', staging], { timeoutMs: 10 * 60_000 });
  if (r.code !== 0) throw new BrokerSetupError(`unpacking ${tarball} failed: ${r.output}`);
  if (!apicurioJar(staging)) throw new BrokerSetupError(`no quarkus-run.jar or *-runner.jar in ${tarball}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(staging, dir);
}
