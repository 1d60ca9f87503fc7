/**
 * The spawned command's help, suggestions and configuration errors (no broker needed): what a
 * user sees first. The in-process cases of test/unit/cli-run.test.ts cover every command's help.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtures, runJobbus, startJobbus } from './spawn.js';

describe('jobbus help and usage errors, spawned', () => {
  it('--help exits 0 with the commands and exit codes; a typo exits 2 with a suggestion; a bad config file names the YAML path', async () => {
    const config = join(mkdtempSync(join(tmpdir(), 'jobbus-cli-')), 'jobbus.yaml');
    writeFileSync(config, 'jobs:\n  bus: kafka\n  kafka:\n    brokers: [localhost]\n');
    const [help, typo, bad] = await Promise.all([
      runJobbus(['--help']),
      runJobbus(['dlq', 'lis', 'orders']),
      runJobbus(['queues', 'orders', '--config', config]),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Commands:\n {2}enqueue[\s\S]*Exit codes:[\s\S]*4 {2}not found/);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown subcommand of "dlq" "lis"; did you mean "list"\?/);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`jobs.kafka.brokers[0]: must be host:port, e.g. 127.0.0.1:9092 (in ${config})`);
    expect(typo.stdout + bad.stdout).toBe('');
  }, 30_000);

  it('a worker process (memory bus) stops on SIGINT and exits 0', async () => {
    const worker = startJobbus(['worker', '--bus', 'memory', '--handlers', `${fixtures}handlers.ts`, '--queue', 'q']);
    try {
      await worker.waitFor(/worker started: queues q; group jobbus; bus memory/);
      worker.child.kill('SIGINT');
      const ran = await worker.exited;
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.stderr).toMatch(/stopping: taking no new jobs, waiting for 0 running job\(s\)[\s\S]*worker stopped/);
    } finally {
      worker.child.kill('SIGKILL');
    }
  }, 30_000);
});
