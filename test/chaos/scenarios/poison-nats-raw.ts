/**
 * A NATS publisher that speaks the wire protocol itself, for the poison scenario: header values
 * can then carry bytes no client would encode (invalid UTF-8). Each publish asks JetStream for
 * its ack (a reply subject), so a message counts as "reached the broker" only once the stream
 * stored it — a PONG would only say the server read the bytes.
 */
import { createConnection, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

/** One header line of a raw publish: name and value bytes (or text, written as UTF-8). */
export type RawHeader = readonly [name: string, value: string | Uint8Array];

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const CRLF = Buffer.from('\r\n');

/** A raw NATS connection publishing with JetStream acks. */
export interface RawNatsPublisher {
  /** Publish on `subject`; resolves once the stream acknowledged it, rejects on a JetStream error. */
  publish(subject: string, headers: readonly RawHeader[], payload: Uint8Array): Promise<void>;
  close(): void;
}

/** Connect to `url` (nats://host:port) without any client library. */
export async function connectRawNats(url: string, ackTimeoutMs = 10_000): Promise<RawNatsPublisher> {
  const u = new URL(url.replace(/^nats:/, 'http:'));
  const sock: Socket = createConnection({ host: u.hostname, port: Number(u.port || 4222) });
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  const inbox = `_INBOX.poison.${randomBytes(6).toString('hex')}`;
  const pending = new Map<string, Pending>();
  let seq = 0;
  let buf: Buffer = Buffer.alloc(0);
  let failure: Error | undefined;

  function failAll(err: Error): void {
    failure ??= err;
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    pending.clear();
  }

  function settle(reply: string, body: string): void {
    const p = pending.get(reply);
    if (!p) return;
    pending.delete(reply);
    clearTimeout(p.timer);
    if (body.includes('"error"')) p.reject(new Error(`JetStream refused the publish: ${body}`));
    else p.resolve();
  }

  // Just enough of the protocol: INFO, +OK, PING, PONG, -ERR and MSG (acks carry no headers).
  sock.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      const eol = buf.indexOf(CRLF);
      if (eol < 0) return;
      const line = buf.subarray(0, eol).toString('latin1');
      if (line.startsWith('MSG ')) {
        const parts = line.split(' ');
        const size = Number(parts[parts.length - 1]);
        if (buf.length < eol + 2 + size + 2) return; // the payload is not all here yet
        settle(parts[1]!, buf.subarray(eol + 2, eol + 2 + size).toString('utf8'));
        buf = buf.subarray(eol + 2 + size + 2);
        continue;
      }
      buf = buf.subarray(eol + 2);
      if (line === 'PING') sock.write('PONG\r\n');
      else if (line.startsWith('-ERR')) failAll(new Error(`NATS server: ${line}`));
    }
  });
  sock.on('error', (err) => failAll(err));
  sock.on('close', () => failAll(new Error('raw NATS connection closed')));
  sock.write(`CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\nSUB ${inbox}.* 1\r\n`);

  return {
    publish(subject, headers, payload) {
      if (failure) return Promise.reject(failure);
      const reply = `${inbox}.${++seq}`;
      const lines: Buffer[] = [Buffer.from('NATS/1.0\r\n')];
      for (const [name, value] of headers) lines.push(Buffer.from(`${name}: `), Buffer.from(value), CRLF);
      lines.push(CRLF);
      const hdr = Buffer.concat(lines);
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(reply);
          reject(new Error(`no JetStream ack for a raw publish on ${subject} within ${ackTimeoutMs} ms`));
        }, ackTimeoutMs);
        pending.set(reply, { resolve, reject, timer });
      });
      sock.write(Buffer.concat([Buffer.from(`HPUB ${subject} ${reply} ${hdr.length} ${hdr.length + payload.byteLength}\r\n`), hdr, payload, CRLF]));
      return done;
    },
    close() {
      failAll(new Error('raw NATS publisher closed'));
      sock.destroy();
    },
  };
}
