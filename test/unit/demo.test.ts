/** The README's quick start: `npm run demo` runs the data path on the memory bus and exits 0. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('quick start demo', () => {
  it('runs five jobs (retries, a dead letter, a delayed job) and exits 0', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/succeeded:\s+4 jobs/);
    expect(run.stdout).toMatch(/dead-lettered:\s+1/);
    expect(run.stdout).toMatch(/never early/);
    expect(run.stdout.trim().endsWith('demo OK')).toBe(true);
  }, 30_000);
});
