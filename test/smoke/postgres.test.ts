import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { pgUrl } from '../setup/env.js';

describe('smoke: PostgreSQL', () => {
  it('select 1', async () => {
    const client = new pg.Client({ connectionString: pgUrl() });
    await client.connect();
    try {
      const res = await client.query<{ one: number }>('select 1 as one');
      expect(res.rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
  });
});
