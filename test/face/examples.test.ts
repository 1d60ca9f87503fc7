/** The Kafka and NATS quick starts of the README (examples/kafka.ts, examples/nats.ts) and the registry example run on the test brokers. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { kafkaBrokers, natsUrl, registryUrl } from '../setup/env.js';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

describe('quick-start examples on real brokers', () => {
  it('examples/kafka.ts runs its job', async () => {
    const env = { ...process.env, JOBBUS_KAFKA_BROKERS: kafkaBrokers().join(',') };
    const { stdout } = await run('npx', ['tsx', 'examples/kafka.ts'], { cwd: root, env, timeout: 60_000 });
    expect(stdout).toContain("welcome { to: 'ada@example.com' }");
  }, 70_000);

  it('examples/nats.ts runs its job and logs no error on close', async () => {
    const env = { ...process.env, JOBBUS_NATS_URL: natsUrl(), JOBBUS_LOG_LEVEL: 'error' };
    const { stdout, stderr } = await run('npx', ['tsx', 'examples/nats.ts'], { cwd: root, env, timeout: 60_000 });
    expect(stdout).toContain("welcome { to: 'ada@example.com' }");
    expect(stdout + stderr).not.toMatch(/"level":50/);
  }, 70_000);

  it('examples/registry.ts refuses an invalid payload, runs the valid one, registers version 2', async () => {
    const env = { ...process.env, JOBBUS_KAFKA_BROKERS: kafkaBrokers().join(','), JOBBUS_REGISTRY_URL: registryUrl() };
    const { stdout } = await run('npx', ['tsx', 'examples/registry.ts'], { cwd: root, env, timeout: 60_000 });
    expect(stdout).toContain('refused: payload.plan in subject signups-');
    expect(stdout).toContain("signup { email: 'ada@example.com', plan: 2 }");
    expect(stdout).toContain('registered version 2 compatibility BACKWARD');
    expect(stdout).toContain('registry OK');
  }, 70_000);
});
