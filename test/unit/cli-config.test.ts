/** The command's configuration: flags > environment > YAML file, and errors naming where the bad value is. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgv } from '../../src/cli/args.js';
import { GLOBAL_FLAGS, loadConfig } from '../../src/cli/config.js';

const dir = mkdtempSync(join(tmpdir(), 'jobbus-cli-config-'));
function yaml(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}
const load = (argv: string[], env: Record<string, string> = {}) => loadConfig({ args: parseArgv(argv, GLOBAL_FLAGS), env, cwd: dir });
const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('no error');
};

const file = yaml(
  'jobbus.yaml',
  `jobs:
  bus: kafka
  kafka:
    brokers: [k1:9092, k2:9092]
    clientId: from-file
  group: file-group
  connectTimeoutMs: 2000
  names: { dlqSuffix: -dead }
  status: { store: redis, url: redis://127.0.0.1:6379 }
  worker:
    concurrency: 4
    retry: { maxAttempts: 3 }
`,
);

describe('loadConfig', () => {
  it('reads the YAML file (--config or JOBBUS_CONFIG) with defaults filled in', () => {
    for (const c of [load(['--config', file]), load([], { JOBBUS_CONFIG: file })]) {
      expect(c).toMatchObject({ bus: 'kafka', group: 'file-group', connectTimeoutMs: 2_000, kafka: { brokers: ['k1:9092', 'k2:9092'], clientId: 'from-file' } });
      expect(c.worker).toEqual({ concurrency: 4, retry: { maxAttempts: 3 } });
      expect(c.origin('kafka.brokers')).toBe(`jobs.kafka.brokers in ${file}`);
    }
  });

  it('environment wins over the file, flags win over both', () => {
    const env = { JOBBUS_CONFIG: file, JOBBUS_KAFKA_BROKERS: 'e1:1,e2:2', JOBBUS_GROUP: 'env-group', JOBBUS_CONNECT_TIMEOUT: '3s' };
    const fromEnv = load([], env);
    expect(fromEnv).toMatchObject({ group: 'env-group', connectTimeoutMs: 3_000, kafka: { brokers: ['e1:1', 'e2:2'], clientId: 'from-file' } });
    expect(fromEnv.origin('kafka.brokers')).toBe('JOBBUS_KAFKA_BROKERS');
    const fromFlags = load(['--kafka-brokers', 'f1:1', '--group', 'flag-group', '--connect-timeout', '1500ms'], env);
    expect(fromFlags).toMatchObject({ group: 'flag-group', connectTimeoutMs: 1_500, kafka: { brokers: ['f1:1'] } });
    expect(fromFlags.origin('kafka.brokers')).toBe('--kafka-brokers');
  });

  it('infers the bus when only Kafka or only NATS is configured, and needs one otherwise', () => {
    expect(load(['--nats-servers', 'nats://a:4222']).bus).toBe('nats');
    expect(load(['--kafka-brokers', 'a:1']).bus).toBe('kafka');
    expect(load(['--bus', 'memory']).bus).toBe('memory');
    expect(errorOf(() => load([]))).toMatch(/^bus: no bus chosen: pass --bus kafka\|nats\|memory, set JOBBUS_BUS/);
    expect(errorOf(() => load(['--bus', 'kafka']))).toMatch(/the Kafka bus needs its brokers: pass --kafka-brokers/);
  });

  it('names the YAML path of a bad value, with the file', () => {
    const bad = yaml('bad.yaml', 'jobs:\n  kafka:\n    brokers: ["localhost"]\n');
    expect(errorOf(() => load(['--config', bad]))).toBe(`jobs.kafka.brokers[0]: must be host:port, e.g. 127.0.0.1:9092 (in ${bad})`);
    const unknown = yaml('unknown.yaml', 'jobs:\n  bus: nats\n  natz: {}\n');
    expect(errorOf(() => load(['--config', unknown]))).toMatch(/^jobs: Unrecognized key.*"natz"/);
    const worker = yaml('worker.yaml', 'jobs:\n  bus: memory\n  worker:\n    retry: { maxAttempts: 0 }\n');
    expect(errorOf(() => load(['--config', worker]))).toMatch(/^jobs\.worker\.retry\.maxAttempts: /);
    const badBus = yaml('bus.yaml', 'jobs:\n  bus: rabbit\n');
    expect(errorOf(() => load(['--config', badBus]))).toMatch(/^jobs\.bus: .*"kafka"/);
  });

  it('names the flag or the environment variable of a bad value', () => {
    expect(errorOf(() => load(['--kafka-brokers', 'nope']))).toMatch(/^--kafka-brokers: must be host:port/);
    expect(errorOf(() => load([], { JOBBUS_KAFKA_BROKERS: 'a:1,nope' }))).toMatch(/^JOBBUS_KAFKA_BROKERS: must be host:port/);
    expect(errorOf(() => load(['--bus', 'rabbit']))).toMatch(/^--bus: /);
    expect(errorOf(() => load(['--bus', 'memory'], { JOBBUS_CONNECT_TIMEOUT: 'soon' }))).toMatch(/JOBBUS_CONNECT_TIMEOUT must be a duration/);
  });

  it('refuses an unreadable file, invalid YAML and a file without `jobs:`', () => {
    expect(errorOf(() => load(['--config', 'missing.yaml']))).toMatch(/^--config: cannot read the config file .*missing\.yaml/);
    expect(errorOf(() => load([], { JOBBUS_CONFIG: 'missing.yaml' }))).toMatch(/^JOBBUS_CONFIG: cannot read/);
    expect(errorOf(() => load(['--config', yaml('broken.yaml', 'jobs: [\n')]))).toMatch(/is not valid YAML/);
    expect(errorOf(() => load(['--config', yaml('nojobs.yaml', 'bus: kafka\n')]))).toMatch(/expected a top-level `jobs:` mapping/);
  });
});
