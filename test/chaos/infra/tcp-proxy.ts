/**
 * A TCP proxy for network faults between clients and a broker (node:net only).
 *
 * - `cut()`: every open connection is reset (RST both ways) and new ones are reset on
 *   accept, until `heal()`. Clients see ECONNRESET at once, as after a broken link.
 * - `stall()`: connections stay open and new ones are accepted (and connected upstream), but
 *   nothing is forwarded either way: each socket is paused (Node still reads up to its
 *   16 KB highWaterMark, then the kernel buffers fill and the sender blocks), as on a link
 *   that silently drops everything. A FIN or reset from either side is held back too.
 * - `heal()` after a stall: reading resumes, and the bytes held (in the proxy's socket
 *   buffers and the kernel's) are DELIVERED, in order, none dropped. A FIN or reset held
 *   during the stall is passed on after them.
 *
 * - `dropReplies()`: requests are forwarded, replies discarded: the broker does the work, the
 *   client never hears of it (a reply lost on the way). `heal()` resets the connections that
 *   lost bytes (their framing is broken); clients reconnect.
 *
 * Bytes the proxy had already handed to a socket before `stall()` was called may still be
 * flushed to the peer; nothing read after the call is forwarded.
 */
import * as net from 'node:net';

/** A running proxy; see the file comment for the fault semantics. */
export interface TcpProxy {
  /** 127.0.0.1:<port> */
  readonly address: string;
  readonly port: number;
  /** Destroy every open connection and refuse (RST/close immediately) new ones until heal(). */
  cut(): void;
  /** Keep connections open and accept new ones, but forward no byte either way until heal(). */
  stall(): void;
  /** Forward what clients send, discard what the broker answers, until heal(). */
  dropReplies(): void;
  /** Back to forwarding; bytes held during a stall are then delivered (none dropped). */
  heal(): void;
  /** Open client connections (each with its upstream). */
  readonly connections: number;
  /** Connections accepted so far (reset-on-accept ones during a cut included). */
  readonly accepted: number;
  /** Stop listening and destroy every connection. */
  close(): Promise<void>;
}

/** Options of {@link startTcpProxy}. */
export interface TcpProxyOptions {
  /** host:port to forward to. */
  target: string;
  /** Port to listen on, on 127.0.0.1 (default: any free port). */
  port?: number;
  /** Sees every chunk a client sends (before it is forwarded), with the connection's number. */
  onClientData?: (connection: number, chunk: Buffer) => void;
}

type Mode = 'forward' | 'cut' | 'stall' | 'dropReplies';

/** One client connection and its upstream connection. */
class Pair {
  /**
   * An end or close seen during a stall, replayed on heal. A paused net.Socket still reads
   * up to its highWaterMark and emits 'end' once that buffer is empty, so FIN and RST must be
   * held back here, not only the data.
   */
  private held: Array<() => void> = [];
  /** Replies were discarded on this connection: its stream is no longer framed. */
  dropped = false;

  constructor(
    readonly client: net.Socket,
    readonly upstream: net.Socket,
    private readonly mode: () => Mode,
    private readonly onGone: (pair: Pair) => void,
    private readonly onClientData?: (chunk: Buffer) => void,
  ) {
    this.wire(client, upstream);
    this.wire(upstream, client);
    if (mode() === 'stall') this.pause();
  }

  private whenForwarding(fn: () => void): void {
    if (this.mode() === 'stall') this.held.push(fn);
    else fn();
  }

  private wire(from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (from === this.upstream && this.mode() === 'dropReplies') {
        this.dropped = true;
        return;
      }
      if (from === this.client) this.onClientData?.(chunk);
      // Back-pressure: stop reading until the other side drains.
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (this.mode() === 'forward') from.resume();
    });
    from.on('error', () => undefined);
    // A clean FIN is passed on after the bytes before it ('end' comes after the last 'data').
    from.on('end', () => this.whenForwarding(() => to.end()));
    from.on('close', (hadError: boolean) =>
      this.whenForwarding(() => {
        if (to.destroyed) this.onGone(this);
        else if (hadError || !to.writableEnded) this.destroy();
        // else: `to` was ended cleanly and closes once its own peer is done
      }),
    );
  }

  pause(): void {
    this.client.pause();
    this.upstream.pause();
  }

  resume(): void {
    for (const fn of this.held.splice(0)) fn();
    // A side whose peer still has a full write buffer waits for that peer's 'drain'.
    if (!this.client.destroyed && !this.upstream.writableNeedDrain) this.client.resume();
    if (!this.upstream.destroyed && !this.client.writableNeedDrain) this.upstream.resume();
  }

  reset(): void {
    this.held = [];
    if (!this.client.destroyed) this.client.resetAndDestroy();
    if (!this.upstream.destroyed) this.upstream.resetAndDestroy();
    this.onGone(this);
  }

  destroy(): void {
    this.held = [];
    this.client.destroy();
    this.upstream.destroy();
    this.onGone(this);
  }
}

function parseTarget(target: string): { host: string; port: number } {
  const i = target.lastIndexOf(':');
  const port = Number(target.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0) throw new Error(`tcp proxy target must be host:port, got ${target}`);
  return { host: target.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

/** Starts listening on 127.0.0.1 and forwards every connection to `target`. */
export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const target = parseTarget(opts.target);
  let mode: Mode = 'forward';
  let accepted = 0;
  const pairs = new Set<Pair>();
  const gone = (pair: Pair) => pairs.delete(pair);

  const server = net.createServer({ noDelay: true }, (client) => {
    accepted++;
    if (mode === 'cut') {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
    const id = accepted;
    const observe = opts.onClientData;
    pairs.add(new Pair(client, upstream, () => mode, gone, observe && ((chunk) => observe(id, chunk))));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: opts.port ?? 0, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  if (typeof addr !== 'object' || addr === null) throw new Error('tcp proxy: no listening address');
  const port = addr.port;

  return {
    address: `127.0.0.1:${port}`,
    port,
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    cut() {
      mode = 'cut';
      for (const pair of [...pairs]) pair.reset();
    },
    stall() {
      mode = 'stall';
      for (const pair of pairs) pair.pause();
    },
    dropReplies() {
      mode = 'dropReplies';
    },
    heal() {
      const was = mode;
      mode = 'forward';
      if (was === 'dropReplies') for (const pair of [...pairs]) if (pair.dropped) pair.reset();
      if (was === 'stall') for (const pair of [...pairs]) pair.resume();
    },
    async close() {
      for (const pair of [...pairs]) pair.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
