/**
 * The examples are what a newcomer copies: they must type-check against the public face (they
 * import `jobbus`, resolved to the sources through tsconfig paths) and run.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

describe('examples', () => {
  it('type-check as a user project would', async () => {
    const { stdout } = await run('npx', ['tsc', '-p', 'tsconfig.examples.json', '--noEmit', '--pretty', 'false'], { cwd: root }).catch(
      (err: { stdout?: string }) => ({ stdout: `tsc failed:\n${err.stdout ?? String(err)}` }),
    );
    expect(stdout).toBe('');
  }, 90_000);

  it('npm run demo runs the memory-bus demo to "demo OK"', async () => {
    const { stdout } = await run('npx', ['tsx', 'examples/demo.ts'], { cwd: root, timeout: 30_000 });
    expect(stdout).toContain('dead-lettered:      1');
    expect(stdout.trim().endsWith('demo OK')).toBe(true);
  }, 40_000);

  it('the typed-jobs example refuses the invalid payload and completes both valid jobs', async () => {
    const { stdout } = await run('npx', ['tsx', 'examples/typed-jobs.ts'], { cwd: root, timeout: 30_000 });
    expect(stdout).toContain('refused at enqueue: url: Invalid URL');
    expect(stdout.match(/completed resize-image/g)).toHaveLength(2);
  }, 40_000);

  it('the cron example fires each @every 1s tick once across two scheduler instances', async () => {
    const { stdout } = await run('npx', ['tsx', 'examples/cron.ts'], { cwd: root, timeout: 30_000 });
    const ticks = [...stdout.matchAll(/^fired sched-heartbeat-(\d+) /gm)].map((m) => Number(m[1]));
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(ticks.every((t) => t % 1_000 === 0)).toBe(true);
    expect(stdout).toContain('trigger nightly-report: fired sched-nightly-report-manual-');
    expect(stdout).toContain('duplicates: 0');
    expect(stdout.trim().endsWith('cron OK')).toBe(true);
  }, 40_000);
});
