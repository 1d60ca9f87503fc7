/**
 * The registry's own Java serdes, for the interop tests: Apicurio's Kafka Avro serde (Maven
 * Central; Confluent's kafka-avro-serializer is not served there) with its dependencies,
 * resolved once through Maven into the cache dir, with progress lines like the broker jars.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BrokerSetupError } from './config.js';
import { classpathPom, dirBytes, mvn, withLock } from './maven.js';
import { cacheDir, megabytes, stderrLog } from './process.js';

/**
 * The serde artifact the interop client runs. Maven Central here does not serve the 3.x
 * `apicurio-registry-avro-serde-kafka`, so it is the 2.6 line's serde, which talks to the
 * registry's v2 core API (Apicurio 3 still serves it).
 */
export const SERDE_VERSION = '2.6.13.Final';
/** Maven coordinates of {@link SERDE_VERSION}'s Kafka Avro serde. */
export const SERDE_ARTIFACT = `io.apicurio:apicurio-registry-serdes-avro-serde:${SERDE_VERSION}`;

/** A POM whose runtime dependencies are the serde's classpath (copied into libs/). */
function serdePom(): string {
  const [groupId, artifactId, version] = SERDE_ARTIFACT.split(':');
  return classpathPom({
    generatedBy: `jobbus test/setup/serde.ts: ${SERDE_ARTIFACT} and its runtime dependencies.`,
    artifactId: 'registry-serde',
    version: version!,
    dependencies: `    <dependency>
      <groupId>${groupId}</groupId>
      <artifactId>${artifactId}</artifactId>
      <version>${version}</version>
    </dependency>
`,
  });
}

/**
 * The folder holding the serde's jars (kafka-clients and Avro among them); downloaded through
 * Maven on first use, reused after. `.complete` marks a finished copy, so an interrupted one
 * is redone.
 */
export async function prepareSerdeJars(log: (m: string) => void = stderrLog): Promise<string> {
  const dir = path.join(cacheDir(), `apicurio-serde-${SERDE_VERSION}`);
  const libs = path.join(dir, 'libs');
  const done = path.join(libs, '.complete');
  if (fs.existsSync(done)) return libs;
  return withLock(
    dir,
    async () => {
      if (fs.existsSync(done)) return libs;
      log(`first run: fetching ${SERDE_ARTIFACT} and its dependencies through Maven (Maven Central unless ~/.m2/settings.xml names a mirror) into ${libs}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'pom.xml'), serdePom());
      fs.rmSync(libs, { recursive: true, force: true });
      await mvn(['dependency:copy-dependencies'], dir, `fetching Apicurio ${SERDE_VERSION} Avro serde jars`, log);
      const jars = fs.readdirSync(libs).filter((f) => f.endsWith('.jar'));
      if (!jars.some((j) => j.startsWith('apicurio-registry-serdes-avro-serde-'))) throw new BrokerSetupError(`serde jar missing in ${libs} after Maven ran`);
      fs.writeFileSync(done, `${jars.length} jars\n`);
      log(`Apicurio ${SERDE_VERSION} Avro serde: ${jars.length} jars, ${megabytes(dirBytes(libs))} in ${libs}`);
      return libs;
    },
    log,
  );
}
