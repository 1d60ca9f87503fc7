/**
 * docker-compose.yml stays a valid compose file whose services answer at the addresses its
 * header tells the user to export (the alternative to the test setup's own brokers).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENV } from '../setup/config.js';

interface ComposeService {
  image?: unknown;
  ports?: unknown;
}

describe('docker-compose.yml', () => {
  const text = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
  const doc = parse(text) as { services?: Record<string, ComposeService> };

  it('parses, and every service has a pinned image and ports bound to 127.0.0.1', () => {
    const services = doc.services ?? {};
    expect(Object.keys(services).sort()).toEqual(['kafka', 'nats', 'postgres', 'redis', 'registry']);
    for (const [name, s] of Object.entries(services)) {
      expect(s.image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(Array.isArray(s.ports) && s.ports.every((p) => typeof p === 'string' && p.startsWith('127.0.0.1:')), name).toBe(true);
    }
  });

  it('publishes the port of every address its header exports, one for each service the setup knows', () => {
    const exported = new Map([...text.matchAll(/^#\s+export (JOBBUS_\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect([...exported.keys()].sort()).toEqual(Object.values(ENV).sort());
    const published = Object.values(doc.services ?? {}).flatMap((s) => (s.ports as string[]).map((p) => p.split(':')[1]));
    for (const [name, address] of exported) {
      const port = /:(\d+)(?:\/|$)/.exec(address)?.[1];
      expect(published, `${name}=${address}`).toContain(port);
    }
  });
});
