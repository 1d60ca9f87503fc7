/**
 * The shared test schema registry: Apicurio Registry (Confluent-compatible API at
 * /apis/ccompat/v7) from the cached tarball, on 127.0.0.1 (port 38081 when free), or the one
 * JOBBUS_REGISTRY_URL / `npm run brokers:up` names.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { APICURIO_JAVA17_VERSION, APICURIO_VERSION, BrokerSetupError, DEFAULT_REGISTRY_PORT, ENV, type EnsureOptions, type Service } from './config.js';
import { JVM_FAST, registryJdk, startJvm, waitForJvm } from './jdk.js';
import { prepareApicurio } from './maven.js';
import { errText, freePort, PORT_TAKEN, preferredPort, tail } from './process.js';

/** Start a fresh Apicurio for this run (3.3.3 on Java 21+, 3.0.9 on 17) and wait until it answers. */
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
  // A port taken between the check and the JVM binding it means another try on new ports.
  for (let attempt = 1; ; attempt++) {
    const port = attempt === 1 ? await preferredPort(DEFAULT_REGISTRY_PORT) : await freePort();
    let managementPort = await freePort();
    while (managementPort === port) managementPort = await freePort();
    if (fs.existsSync(logFile)) fs.renameSync(logFile, `${logFile}.${attempt - 1}`);
    const proc = startJvm(
      jdk.java,
      [
        ...JVM_FAST,
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
      await waitForJvm(`Apicurio Registry ${version} on ${url} (Java ${jdk.major}, ${jdk.java})`, () => registryAnswers(url, 1000), proc, logFile, 180_000, log);
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

/** Throws unless the registry at `url` lists its subjects. */
export async function checkRegistry(url: string, timeoutMs = 10_000): Promise<void> {
  const res = await fetch(`${url.replace(/\/+$/, '')}/subjects`, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await res.text();
  if (!res.ok) throw new Error(`GET ${url}/subjects answered ${res.status}: ${body.slice(0, 200)}`);
}

/** The registry from JOBBUS_REGISTRY_URL or `brokers:up` (checked), else a fresh one (started). */
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
