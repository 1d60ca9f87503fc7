/**
 * The chaos suite's TCP proxy against a local echo server that counts what reaches it:
 * forwarding, cut (reset, refuse), dropReplies (requests only), stall (nothing forwarded either way, new connections
 * accepted) and heal (held bytes delivered in order).
 */
import * as net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** How long a stall is watched for a stray byte. */
const STALL_WINDOW_MS = 400;

interface Echo {
  port: number;
  /** Bytes received from all connections so far. */
  received: () => number;
  close: () => Promise<void>;
}

async function startEcho(): Promise<Echo> {
  let received = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('data', (d: Buffer) => {
      received += d.length;
      s.write(d);
    });
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    received: () => received,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A client connection that collects what it receives and how it ended. */
interface Client {
  socket: net.Socket;
  data: () => Buffer;
  closed: Promise<{ error: string | undefined }>;
}

async function connectClient(port: number): Promise<Client> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  let error: string | undefined;
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
  const closed = new Promise<{ error: string | undefined }>((resolve) => socket.once('close', () => resolve({ error })));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, data: () => Buffer.concat(chunks), closed };
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const observe = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('tcp proxy', () => {
  let echo: Echo;
  let proxy: TcpProxy;
  const clients: Client[] = [];

  beforeEach(async () => {
    echo = await startEcho();
    proxy = await startTcpProxy({ target: `127.0.0.1:${echo.port}` });
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    await proxy.close();
    await echo.close();
  });

  const client = async () => {
    const c = await connectClient(proxy.port);
    clients.push(c);
    return c;
  };

  it('forwards both ways and counts connections', async () => {
    expect(proxy.address).toBe(`127.0.0.1:${proxy.port}`);
    const a = await client();
    a.socket.write('hello');
    await until('echo', () => a.data().toString() === 'hello');
    expect(proxy.connections).toBe(1);
    a.socket.end();
    await a.closed;
    await until('connection gone', () => proxy.connections === 0);
  });

  it('cut resets open connections and refuses new ones until heal', async () => {
    const a = await client();
    a.socket.write('x');
    await until('echo', () => a.data().length === 1);
    proxy.cut();
    const end = await a.closed;
    expect(end.error).toBe('ECONNRESET');
    expect(proxy.connections).toBe(0);

    // A new connection is accepted by the kernel, then reset before any byte passes (the
    // reset may even beat the client's own 'connect' event).
    const b = net.connect({ host: '127.0.0.1', port: proxy.port });
    let bytes = 0;
    b.on('data', (d: Buffer) => (bytes += d.length));
    b.write('lost');
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => b.once('error', resolve));
    expect(err.code).toBe('ECONNRESET');
    expect(bytes).toBe(0);
    expect(echo.received()).toBe(1);
    expect(proxy.accepted).toBe(2);

    proxy.heal();
    const c = await client();
    c.socket.write('back');
    await until('echo after heal', () => c.data().toString() === 'back');
  });

  it('stall forwards nothing either way, accepts new connections, and heal delivers every held byte in order', async () => {
    const a = await client();
    a.socket.write('warm');
    await until('echo', () => a.data().length === 4);
    const before = echo.received();

    proxy.stall();
    // 4 MB: more than the kernel buffers hold, so the proxy's back-pressure is exercised too.
    const big = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    a.socket.write(big);
    const b = await client();
    b.socket.write('new during stall');
    await until('connection accepted during stall', () => proxy.connections === 2);
    await observe(STALL_WINDOW_MS);
    expect(echo.received()).toBe(before);
    expect(a.data().length).toBe(4);
    expect(b.data().length).toBe(0);
    expect(a.socket.destroyed || b.socket.destroyed).toBe(false);

    proxy.heal();
    await until('held bytes delivered', () => a.data().length === 4 + big.length && b.data().length === 16, 15_000);
    expect(a.data().subarray(4).equals(big)).toBe(true);
    expect(b.data().toString()).toBe('new during stall');
  });

  it('dropReplies forwards requests, discards replies, and heal resets the connections that lost replies', async () => {
    const a = await client();
    a.socket.write('warm');
    await until('echo', () => a.data().length === 4);
    proxy.dropReplies();
    a.socket.write('request');
    await until('request reached the server', () => echo.received() === 4 + 7);
    await observe(STALL_WINDOW_MS);
    expect(a.data().length).toBe(4);

    proxy.heal();
    const end = await a.closed;
    expect(end.error).toBe('ECONNRESET');
    const b = await client();
    b.socket.write('back');
    await until('echo after heal', () => b.data().toString() === 'back');
  });

  it('a close during a stall reaches the other side only on heal', async () => {
    const a = await client();
    a.socket.write('1');
    await until('echo', () => a.data().length === 1);
    proxy.stall();
    await echo.close(); // the upstream goes away (its sockets are destroyed: RST/FIN)
    await observe(STALL_WINDOW_MS);
    expect(a.socket.destroyed).toBe(false);
    proxy.heal();
    await a.closed;
    await until('connection gone', () => proxy.connections === 0);
    echo = await startEcho(); // for afterEach
  });

  it('refuses an unreachable target by closing the client', async () => {
    const dead = await startTcpProxy({ target: '127.0.0.1:1' });
    try {
      const c = await connectClient(dead.port);
      await c.closed;
      expect(c.data().length).toBe(0);
      await until('connection gone', () => dead.connections === 0);
    } finally {
      await dead.close();
    }
  });
});
