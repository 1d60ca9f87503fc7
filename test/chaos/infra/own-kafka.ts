/**
 * A Kafka 4.2.1 single-node KRaft broker owned by one chaos scenario: its own temp dir and
 * ports, from the same jars as the suite's shared Kafka (test/setup/brokers.ts), so it can be
 * killed, paused and restarted without touching anyone else's broker.
 *
 * Listeners:
 * - CLIENT (PLAINTEXT unless `properties` says otherwise) on `ports.port`, advertised as
 *   `ports.advertisedPort`: every client connection after bootstrap goes to the advertised
 *   port, so a TCP proxy there sees all of a client's traffic.
 * - INTERNAL (PLAINTEXT) on `ports.internalPort`, advertised as itself: the inter-broker
 *   listener and the one the readiness check uses, so readiness never depends on the proxy.
 * - CONTROLLER (PLAINTEXT) on `ports.controllerPort`.
 *
 * Broker session timeout 3 s (heartbeat 0.5 s) instead of 9 s, so a restart after kill -9
 * does not wait out the dead incarnation's session. Override through `properties`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JVM_FAST, kafkaClusterId, kafkaJdk, kafkaLog4j, kafkaProperties, prepareKafkaJars, run, sleep } from '../../setup/brokers.js';
import { createOwnBroker, makeChaosDir, pruneStaleChaosDirs, stablePort, type OwnBrokerDetails } from './own-process.js';

/** The ports of one own Kafka; fixed for its lifetime. */
export interface KafkaPorts {
  /** The CLIENT listener binds here (a proxy's target). */
  port: number;
  /** Clients are told this port for the CLIENT listener (default: `port`). */
  advertisedPort: number;
  /** The INTERNAL listener (inter-broker and readiness). */
  internalPort: number;
  controllerPort: number;
}

/** Options of {@link startOwnKafka}. */
export interface OwnKafkaOptions {
  /**
   * Clients are told this port; put a TCP proxy there (targeting `listenAddress`). The
   * broker's `address` is then 127.0.0.1:<advertisedPort>, i.e. the proxy; readiness and
   * `createTopic` use the INTERNAL listener, so the proxy may start after the broker.
   */
  advertisedPort?: number;
  /**
   * Extra or overriding server.properties, applied last. E.g. a SASL_SSL client listener:
   * `listener.security.protocol.map: 'CLIENT:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT'`,
   * `sasl.enabled.mechanisms`, `ssl.keystore.*`, `authorizer.class.name`, `super.users`.
   * With an authorizer, put `User:ANONYMOUS` in super.users (the PLAINTEXT INTERNAL and
   * CONTROLLER listeners authenticate nobody) or the broker cannot reach its own controller.
   */
  properties?: (ports: KafkaPorts) => Record<string, string>;
  /** Extra args for `kafka.tools.StorageTool format`, e.g. `['--add-scram', 'SCRAM-SHA-256=[name=admin,password=x]']`. */
  formatArgs?: string[];
  /** Default partitions of auto-created topics (1). */
  numPartitions?: number;
  /** JVM max heap (384m). */
  heap?: string;
  /** Spawn to ready, per start (60 s: a restart after kill -9 recovers its logs first). */
  startTimeoutMs?: number;
  /** SIGTERM grace of stop() before SIGKILL (30 s). */
  stopGraceMs?: number;
}

/** An own Kafka: the agreed OwnBroker plus its ports. */
export interface OwnKafka extends OwnBrokerDetails {
  readonly kind: 'kafka';
  readonly ports: KafkaPorts;
  /** host:port of the INTERNAL listener: always direct, never through a proxy. */
  readonly internalAddress: string;
  /**
   * Creates a topic (if missing) and resolves once the broker's metadata shows a leader for
   * every partition. kafkajs' own `createTopics({ waitForLeaders })` throws
   * UNKNOWN_TOPIC_OR_PARTITION when the metadata lags the creation by more than a moment,
   * which a freshly started broker on a busy machine does for a second or two.
   */
  createTopic(topic: string, numPartitions?: number, timeoutMs?: number): Promise<void>;
}

/** The listener layout described at the top of this file, before `properties`. */
function listenerProperties(p: KafkaPorts, numPartitions: number): Record<string, string> {
  return {
    listeners: `CLIENT://127.0.0.1:${p.port},INTERNAL://127.0.0.1:${p.internalPort},CONTROLLER://127.0.0.1:${p.controllerPort}`,
    'advertised.listeners': `CLIENT://127.0.0.1:${p.advertisedPort},INTERNAL://127.0.0.1:${p.internalPort},CONTROLLER://127.0.0.1:${p.controllerPort}`,
    'listener.security.protocol.map': 'CLIENT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'INTERNAL',
    'num.partitions': String(numPartitions),
    // A restart after kill -9 re-registers the broker only once the killed incarnation's
    // session has expired: 9 s by default, 3 s here (restart ~15 s -> ~9 s on 2 busy cores).
    'broker.session.timeout.ms': '3000',
    'broker.heartbeat.interval.ms': '500',
  };
}

/**
 * Lists topics through the INTERNAL listener, then looks up a group coordinator so a fresh
 * broker creates __consumer_offsets now rather than in the test's first consumer. The
 * look-up is best effort: an authorizer may deny it to ANONYMOUS.
 */
async function kafkaReady(address: string): Promise<void> {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ clientId: 'jobbus-chaos-ready', brokers: [address], logLevel: logLevel.NOTHING, connectionTimeout: 2000, requestTimeout: 5000, retry: { retries: 0 } });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    await admin.describeGroups(['jobbus-chaos-ready']).catch(() => undefined);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function createTopic(address: string, topic: string, numPartitions = 1, timeoutMs = 30_000): Promise<void> {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({ clientId: 'jobbus-chaos-topic', brokers: [address], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 200 } }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: false });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const meta = await admin.fetchTopicMetadata({ topics: [topic] });
        const partitions = meta.topics[0]?.partitions ?? [];
        if (partitions.length === numPartitions && partitions.every((p) => p.leader >= 0)) return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      if (Date.now() > deadline) throw new Error(`topic ${topic}: no leader for every partition within ${timeoutMs} ms`);
      await sleep(100);
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Formats a temp dir and starts a single-node Kafka on it; resolves once kafkajs can list topics. */
export async function startOwnKafka(opts: OwnKafkaOptions = {}): Promise<OwnKafka> {
  await pruneStaleChaosDirs();
  const [libs, jdk] = await Promise.all([prepareKafkaJars(), kafkaJdk()]);
  const dir = makeChaosDir('kafka');
  try {
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir);
    const port = await stablePort();
    const ports: KafkaPorts = { port, advertisedPort: opts.advertisedPort ?? port, internalPort: await stablePort(), controllerPort: await stablePort() };
    const propsFile = path.join(dir, 'server.properties');
    const log4j = path.join(dir, 'log4j2.properties');
    fs.writeFileSync(propsFile, kafkaProperties(dataDir, port, ports.controllerPort, { ...listenerProperties(ports, opts.numPartitions ?? 1), ...opts.properties?.(ports) }));
    fs.writeFileSync(log4j, kafkaLog4j());
    const jvm = [...JVM_FAST.filter((a) => !a.startsWith('-Xmx')), `-Xmx${opts.heap ?? '384m'}`, '-cp', `${libs}/*`, `-Dlog4j2.configurationFile=${log4j}`];
    const fmt = await run(jdk.java, [...jvm, 'kafka.tools.StorageTool', 'format', '-t', kafkaClusterId(), '-c', propsFile, ...(opts.formatArgs ?? [])], { cwd: dir, timeoutMs: 120_000 });
    if (fmt.code !== 0) throw new Error(`formatting own Kafka's log dir failed (exit ${fmt.code}):\n${fmt.output.trim().split('\n').slice(-20).join('\n')}`);
    const internalAddress = `127.0.0.1:${ports.internalPort}`;
    const broker = await createOwnBroker({
      kind: 'kafka',
      address: `127.0.0.1:${ports.advertisedPort}`,
      listenAddress: `127.0.0.1:${port}`,
      dir,
      dataDir,
      command: jdk.java,
      // -Djobbus.chaos=<dir> marks the process so a later run can prune it safely.
      args: [...jvm, `-Djobbus.chaos=${dir}`, 'kafka.Kafka', propsFile],
      ready: () => kafkaReady(internalAddress),
      attemptTimeoutMs: 10_000,
      startTimeoutMs: opts.startTimeoutMs ?? 60_000,
      stopGraceMs: opts.stopGraceMs ?? 30_000,
    });
    return Object.assign(broker, {
      kind: 'kafka' as const,
      ports,
      internalAddress,
      createTopic: (topic: string, numPartitions?: number, timeoutMs?: number) => createTopic(internalAddress, topic, numPartitions, timeoutMs),
    });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
