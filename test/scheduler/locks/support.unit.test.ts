import { describe, expect, it } from 'vitest';
import { NotInitializedError } from '../../../src/errors.js';
import { loadPeer } from '../../../src/scheduler/locks/common.js';
import { encodeKvKey, parseToken } from '../../../src/scheduler/locks/nats-kv-support.js';

describe('lock provider support', () => {
  it('a missing optional client is a NotInitializedError naming the package to install', async () => {
    const missing = () => import(/* @vite-ignore */ `jobbus-no-such-package-${Date.now()}`);
    const err = await loadPeer('redis', 'Redis', missing).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(NotInitializedError);
    expect((err as Error).message).toContain('npm install redis');
    expect((err as Error).cause).toBeDefined();
  });

  it('other load failures pass through unchanged', async () => {
    const boom = new Error('syntax error in the package');
    await expect(loadPeer('pg', 'PostgreSQL', () => Promise.reject(boom))).rejects.toBe(boom);
  });

  it('encodes lock keys into NATS KV key characters, injectively', () => {
    const keys = ['task@2026-03-29T01:00:00.000Z', 'task@2026-03-29T01=3A00', 'a.b', 'a b', '.x.', 'é', 'A-z_9'];
    const encoded = keys.map(encodeKvKey);
    for (const e of encoded) expect(e).toMatch(/^[-_=a-zA-Z0-9]+$/);
    expect(new Set(encoded).size).toBe(keys.length);
    expect(encodeKvKey('A-z_9')).toBe('A-z_9');
    expect(encodeKvKey('a:b')).toBe('a=3Ab');
  });

  it('reads the acquire TTL back from a NATS KV token', () => {
    expect(parseToken('30000.abcdef')).toBe(30_000);
    expect(() => parseToken('nope')).toThrow();
  });
});
