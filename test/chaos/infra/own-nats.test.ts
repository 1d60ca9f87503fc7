/**
 * The chaos suite's own nats-server: JetStream data survives kill -9 and a graceful stop,
 * ports stay the same, pause really hangs it, a TCP proxy in front can cut clients off, and
 * destroy leaves nothing behind. Never the shared server on 4222.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isProcess, pidAlive } from '../../setup/brokers.js';
import { startOwnNats, type OwnNats } from './own-brokers.js';
import { pruneStaleChaosDirs } from './own-process.js';
import { startTcpProxy } from './tcp-proxy.js';

const STREAM = 'CHAOS_INFRA';
const COUNT = 100;
const te = new TextEncoder();
const td = new TextDecoder();

/** Reads every message of the stream back through an ordered consumer. */
async function consumeAll(url: string): Promise<string[]> {
  const nc = await connect({ servers: url, reconnect: false });
  try {
    const consumer = await jetstream(nc).consumers.get(STREAM);
    const out: string[] = [];
    const batch = await consumer.fetch({ max_messages: COUNT, expires: 5000 });
    for await (const m of batch) {
      out.push(td.decode(m.data));
      if (out.length === COUNT) break;
    }
    return out;
  } finally {
    await nc.close();
  }
}

const expected = Array.from({ length: COUNT }, (_, i) => `m${i}`);

const CHILD = fileURLToPath(new URL('./fixtures/own-nats-child.ts', import.meta.url));

/** Runs the fixture in a child Node process; resolves with the broker it started. */
function runChild(how: 'exit' | 'sigkill'): Promise<{ pid: number; dir: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', CHILD, how], { timeout: 30_000 }, (_err, stdout, stderr) => {
      // A SIGKILLed child is an error for execFile; its line on stdout is what counts.
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as { pid: number; dir: string });
      else reject(new Error(`child printed no broker: ${stderr}`));
    });
  });
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('own nats-server', () => {
  let nats: OwnNats;
  const times: Record<string, number> = {};

  beforeAll(async () => {
    const t0 = Date.now();
    nats = await startOwnNats();
    times.cold = Date.now() - t0;
  });

  afterAll(async () => {
    if (!nats) return;
    await nats.destroy();
    expect(fs.existsSync(nats.dir)).toBe(false);
    console.log(`own nats start times (ms): ${JSON.stringify({ ...times, perStart: nats.startTimes })}`);
  });

  it('runs on its own port and store, not the shared 4222', () => {
    expect(nats.kind).toBe('nats');
    expect(nats.address).not.toContain(':4222');
    expect(nats.url).toBe(`nats://${nats.address}`);
    expect(nats.pid).toBeGreaterThan(0);
    expect(fs.readFileSync(`/proc/${nats.pid}/cmdline`, 'utf8')).toContain(nats.dir);
  });

  it('keeps a JetStream stream across kill -9 and restart on the same port', async () => {
    const nc: NatsConnection = await connect({ servers: nats.url, reconnect: false });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: STREAM, subjects: [`${STREAM}.>`] });
      const js = jetstream(nc);
      for (const body of expected) await js.publish(`${STREAM}.x`, te.encode(body));
    } finally {
      await nc.close();
    }
    const pidBefore = nats.pid;
    await nats.kill();
    expect(nats.pid).toBeUndefined();
    expect(fs.existsSync(nats.dataDir)).toBe(true);
    await expect(connect({ servers: nats.url, reconnect: false, timeout: 1000 })).rejects.toThrow();
    const t0 = Date.now();
    await nats.start();
    times.afterKill9 = Date.now() - t0;
    expect(nats.pid).not.toBe(pidBefore);
    expect(await consumeAll(nats.url)).toEqual(expected);
  });

  it('keeps it across a graceful stop and start', async () => {
    await nats.stop();
    expect(nats.pid).toBeUndefined();
    const t0 = Date.now();
    await nats.start();
    times.afterStop = Date.now() - t0;
    expect(await consumeAll(nats.url)).toEqual(expected);
  });

  it('pause hangs it (requests time out) and resume brings it back', async () => {
    const nc = await connect({ servers: nats.url, reconnect: false });
    try {
      nats.pause();
      await expect(nc.request('$JS.API.INFO', undefined, { timeout: 500 })).rejects.toThrow();
      nats.resume();
      const info = (await nc.request('$JS.API.INFO', undefined, { timeout: 5000 })).json<{ streams?: number }>();
      expect(info.streams).toBe(1);
    } finally {
      nats.resume();
      await nc.close();
    }
  });

  it('stop() of a paused server still exits (SIGCONT before SIGTERM)', async () => {
    nats.pause();
    await nats.stop();
    expect(nats.pid).toBeUndefined();
    await nats.start();
    expect(await consumeAll(nats.url)).toEqual(expected);
  });

  it('a TCP proxy in front of it cuts a connected client off', async () => {
    const proxy = await startTcpProxy({ target: nats.address });
    const nc = await connect({ servers: `nats://${proxy.address}`, reconnect: false });
    try {
      const closed = nc.closed();
      await nc.flush();
      expect(proxy.connections).toBe(1);
      proxy.cut();
      const err = await closed;
      expect(err).toBeInstanceOf(Error);
      await expect(connect({ servers: `nats://${proxy.address}`, reconnect: false, timeout: 1000 })).rejects.toThrow();
      proxy.heal();
      const again = await connect({ servers: `nats://${proxy.address}`, reconnect: false });
      await again.flush();
      await again.close();
    } finally {
      await proxy.close();
    }
  });

  it('dies with the process that started it', async () => {
    const child = await runChild('exit');
    await until('broker gone after its parent exited', () => !pidAlive(child.pid));
    fs.rmSync(child.dir, { recursive: true, force: true }); // the exit hook kills; destroy() removes
  });

  it('a later start prunes what a SIGKILLed parent left behind', async () => {
    const child = await runChild('sigkill');
    expect(isProcess(child.pid, child.dir)).toBe(true);
    expect(fs.existsSync(child.dir)).toBe(true);
    await pruneStaleChaosDirs(true);
    await until('orphan killed', () => !pidAlive(child.pid));
    expect(fs.existsSync(child.dir)).toBe(false);
  });
});
