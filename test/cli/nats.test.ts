/**
 * The `jobbus` command end to end on a real NATS server, as an operator runs it: spawned
 * processes, one worker process that handles jobs and stops gracefully on SIGTERM with its
 * running job completed, the DLQ listed, purged and replayed (--json parsed), queue stats,
 * pause and resume, job status through a NATS KV status store, and a wrong address.
 * Each spawn costs about a second, so the steps share one queue and run in order.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { natsUrl, uniqueName } from '../setup/env.js';
import { fixtures, runJobbus, runJson, startJobbus } from './spawn.js';

interface Entry {
  entryId: string;
  job: { id: string; name: string };
  reason: string;
  attempt: number;
}

const queue = uniqueName('cli-nats');
// The status store comes from a config file (the bus from the environment): its own bucket.
const config = join(mkdtempSync(join(tmpdir(), 'jobbus-cli-')), 'jobbus.yaml');
writeFileSync(config, `jobs:\n  status:\n    store: nats-kv\n    bucket: ${uniqueName('cli-status')}\n    ttlMs: 600000\n`);
const env = (): Record<string, string> => ({ JOBBUS_NATS_SERVERS: natsUrl(), JOBBUS_CONFIG: config });

describe.sequential('jobbus on NATS', () => {
  const ids: Record<string, string> = {};

  it('a worker process handles enqueued jobs, dead-letters failures, and on SIGTERM finishes its running job and exits 0', async () => {
    const worker = startJobbus(['worker', '--handlers', `${fixtures}handlers.ts`, '--queue', queue], env());
    try {
      await worker.waitFor(/worker started: queues /);
      const ok = await runJson<{ id: string; queue: string }>(['enqueue', queue, 'ok', '--payload', '{"n":1}'], env());
      expect(ok.ran.code).toBe(0);
      expect(ok.json.queue).toBe(queue);
      ids.ok = ok.json.id;
      await worker.waitFor(new RegExp(`handled ok ${ok.json.id} \\{"n":1\\}`));
      for (let i = 0; i < 3; i++) {
        const r = await runJobbus(['enqueue', queue, 'fail', '--max-attempts', '1', '--payload', `{"i":${i}}`], env());
        expect(r.code, r.stderr).toBe(0);
      }
      await worker.waitFor(/(dead-lettered fail[\s\S]*){3}/);
      const slow = await runJson<{ id: string }>(['enqueue', queue, 'slow', '--payload', '{"ms":1500}'], env());
      await worker.waitFor(new RegExp(`started slow ${slow.json.id}`));
      worker.child.kill('SIGTERM');
      const ran = await worker.exited;
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.stdout).toContain(`handled slow ${slow.json.id}`);
      expect(ran.stderr).toMatch(/stopping: taking no new jobs, waiting for 1 running job\(s\)[\s\S]*completed slow[\s\S]*worker stopped/);
    } finally {
      worker.child.kill('SIGKILL');
    }
  }, 90_000);

  it('dlq list (table and --json), purge refused without --yes, purge and replay by id, unknown id exit 4, replay --all with progress', async () => {
    const table = await runJobbus(['dlq', 'list', queue], env());
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^FAILED AT +ENTRY +JOB ID +NAME +ATTEMPTS +REASON +PAYLOAD\n/);
    const listed = await runJson<{ entries: Entry[] }>(['dlq', 'list', queue, '--name', 'fail', '--reason', 'BOOM'], env());
    expect(listed.json.entries).toHaveLength(3);
    expect(listed.json.entries.every((e) => e.job.name === 'fail' && /boom/.test(e.reason) && e.attempt === 0)).toBe(true);
    const page = await runJson<{ entries: Entry[]; nextCursor?: string }>(['dlq', 'list', queue, '--limit', '2'], env());
    expect(page.json.entries).toHaveLength(2);
    expect(page.json.nextCursor).toBeDefined();
    const [e1, e2, e3] = listed.json.entries.map((e) => e.entryId) as [string, string, string];

    const refused = await runJobbus(['dlq', 'purge', queue, '--id', e1], env());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing to purge without confirmation: stdin is not a terminal; pass --yes/);
    const purged = await runJson(['dlq', 'purge', queue, '--id', e1, '--yes'], env());
    expect(purged.json).toMatchObject({ matched: 1, purged: 1 });
    const replayed = await runJson(['dlq', 'replay', queue, '--id', e2], env());
    expect(replayed.json).toMatchObject({ matched: 1, replayed: 1 });
    const unknown = await runJobbus(['dlq', 'replay', queue, '--id', e2], env());
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/none of the given entry ids is in the DLQ/);
    const all = await runJobbus(['dlq', 'replay', queue, '--all', '--yes', '--progress', '--json', '--rate', '20/s'], env());
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout)).toMatchObject({ matched: 1, replayed: 1, replayedIds: [e3] });
    expect(all.stderr).toMatch(/replaying 1\/1/);
    const empty = await runJson<{ entries: Entry[] }>(['dlq', 'list', queue], env());
    expect(empty.json.entries).toEqual([]);
  }, 90_000);

  it('queues shows the replayed jobs waiting and an empty DLQ; pause and resume show in it', async () => {
    const stats = await runJson<{ queues: { queue: string; waiting: number; dlqSize: number; paused?: boolean }[] }>(['queues', queue], env());
    expect(stats.json.queues).toEqual([expect.objectContaining({ queue, waiting: 2, dlqSize: 0, paused: false })]);
    const paused = await runJobbus(['pause', queue], env());
    expect([paused.code, paused.stdout.trim()]).toEqual([0, `paused "${queue}" for group "jobbus"`]);
    const table = await runJobbus(['queues', queue], env());
    expect(table.stdout).toMatch(new RegExp(`\\n${queue} +jobbus +2 .* yes$`, "m"));
    const resumed = await runJson(['resume', queue], env());
    expect(resumed.json).toEqual({ queue, group: 'jobbus', paused: false });
    const after = await runJson<{ queues: { paused?: boolean }[] }>(['queues', queue], env());
    expect(after.json.queues[0]!.paused).toBe(false);
  }, 60_000);

  it('status of a handled job, of an unknown id (exit 4), and the snapshot, from the NATS KV store the worker wrote', async () => {
    const record = await runJson<{ jobId: string; state: string; queue: string }>(['status', ids.ok!], env());
    expect(record.ran.code, record.ran.stderr).toBe(0);
    expect(record.json).toMatchObject({ jobId: ids.ok, state: 'completed', queue });
    const unknown = await runJobbus(['status', 'no-such-job'], env());
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/no status for job no-such-job/);
    const snap = await runJson<{ total: number; byQueue: Record<string, Record<string, number>> }>(['status', '--snapshot'], env());
    expect(snap.json.byQueue[queue]).toMatchObject({ completed: 2, dead: 3 });
  }, 60_000);

  it('a wrong address: an actionable message within the connect timeout, exit 3', async () => {
    const r = await runJobbus(['queues', queue, '--nats-servers', 'nats://127.0.0.1:9'], { JOBBUS_NATS_SERVERS: natsUrl() });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/cannot reach NATS at nats:\/\/127\.0\.0\.1:9 within 5 s: is the broker running\? check --nats-servers \/ JOBBUS_NATS_SERVERS/);
    expect(r.ms).toBeLessThan(8_000);
    expect(r.stdout).toBe('');
  }, 20_000);
});
