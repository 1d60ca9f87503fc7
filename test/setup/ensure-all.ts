/** All five services at once: what the integration tests' globalSetup and `brokers:up` call. */
import * as fs from 'node:fs';
import { BrokerSetupError, ENV, FIX_HINT, type EnsureOptions, type Service, type ServiceName } from './config.js';
import { ensureKafka } from './kafka.js';
import { ensureNats, ensurePostgres, ensureRedis } from './local-services.js';
import { errText } from './process.js';
import { ensureRegistry } from './registry.js';

/** The five services, available. */
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

/** One line saying where each service is and how it came to be there. */
export function describe(b: Brokers): string {
  return (Object.values(b.services) as Service[])
    .map((s) => `${s.name} ${s.address} (${s.origin}${s.origin === 'started' || s.origin === 'restarted' ? `, ${(s.ms / 1000).toFixed(1)} s` : ''})`)
    .join('; ');
}
