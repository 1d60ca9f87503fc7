/**
 * A NATS restart while subscribed: no job is lost and nothing needs a process restart.
 * Runs its own nats-server (free port, its own store in a temp dir) so the shared server
 * other tests use is never touched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/jobs/errors.js';
import type { Message } from '../../src/eventbus/types.js';
import { waitFor } from '../support/wait.js';
import { natsScope, uniqueName } from './helpers.js';

const NATS_SERVER = process.env.JOBBUS_NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A private nats-server that can be stopped and started again on the same port and store. */
function privateServer(port: number, storeDir: string) {
  let child: ChildProcess | undefined;
  return {
    url: `nats://127.0.0.1:${port}`,
    async start(): Promise<void> {
      child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: 'ignore' });
      await waitFor(
        () =>
          new Promise<boolean>((resolve) => {
            const s = createServer(); // cheap readiness probe: the port is taken once it listens
            s.once('error', () => resolve(true));
            s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
          }),
        'nats-server to listen',
        10_000,
        50,
      );
    },
    async stop(): Promise<void> {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGTERM');
      await exited;
    },
  };
}

describe('NATS JetStream bus across a server restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobbus-nats-'));
  let server: ReturnType<typeof privateServer> | undefined;
  const scope = natsScope('rc', () => server!.url);

  afterAll(async () => {
    await scope.cleanup().catch(() => undefined);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no job and resumes consuming by itself', async () => {
    server = privateServer(await freePort(), dir);
    await server.start();
    const topic = uniqueName('restart');
    const bus = await scope.bus({ pullExpiresMs: 1_000 });
    const seen = new Set<string>();
    let deliveries = 0;
    await bus.subscribe(
      topic,
      async (d) => {
        deliveries++;
        await new Promise((r) => setTimeout(r, 40));
        seen.add(d.message.headers.n!);
      },
      { group: 'g', maxInFlight: 4, ackTimeoutMs: 2_000 },
    );
    const batch = (from: number): Message[] =>
      Array.from({ length: 100 }, (_, i) => ({ value: new Uint8Array([1]), headers: { n: String(from + i) } }));
    await bus.publishBatch(topic, batch(0));
    await waitFor(() => seen.size >= 10, 'some progress before the restart');

    await server.stop(); // in-flight acks are lost here
    expect(seen.size).toBeLessThan(100); // the restart really happened mid-stream
    await waitFor(() => bus.healthCheck().then(() => false, (e: unknown) => e instanceof UnavailableError), 'health to report the outage');
    await server.start();
    await waitFor(() => bus.healthCheck().then(() => true, () => false), 'health after the restart', 20_000);

    await bus.publishBatch(topic, batch(100));
    await waitFor(() => seen.size === 200, 'every job, before and after the restart', 30_000);
    expect(deliveries).toBeGreaterThanOrEqual(200); // at-least-once: unacked ones came again
  }, 90_000);
});
