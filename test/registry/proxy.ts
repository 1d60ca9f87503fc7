/**
 * A TCP proxy in front of the test registry that a test can cut and restore, to show what a
 * briefly unreachable registry does (cut: new connections are refused, open ones dropped).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

/** A proxy to the registry at `target` (its URL); `url` is the same API through the proxy. */
export interface CuttableProxy {
  readonly url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Start a proxy on a free port of 127.0.0.1. */
export async function startProxy(target: string): Promise<CuttableProxy> {
  const t = new URL(target);
  const sockets = new Set<Socket>();
  let port = 0;
  let server: Server | undefined;

  async function listen(): Promise<void> {
    server = createServer((client) => {
      const upstream = connect(Number(t.port), t.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  }

  async function cut(): Promise<void> {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  await listen();
  return {
    url: `http://127.0.0.1:${port}${t.pathname}`.replace(/\/+$/, ''),
    cut,
    restore: listen,
    close: cut,
  };
}
