import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { redisUrl, uniqueName } from '../setup/env.js';

describe('smoke: Redis', () => {
  it('SET then GET', async () => {
    const client = createClient({ url: redisUrl() });
    await client.connect();
    try {
      const key = uniqueName('smoke:redis');
      expect(await client.set(key, 'hello redis', { EX: 60 })).toBe('OK');
      expect(await client.get(key)).toBe('hello redis');
      await client.del(key);
    } finally {
      client.destroy();
    }
  });
});
