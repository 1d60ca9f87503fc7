/**
 * A lean JetStream publisher: plain publishes with a reply subject, and PubAcks collected on
 * one wildcard inbox subscription.
 *
 * Why not `js.publish()`: it is a full request per message (its own deferred, its own
 * timer, and an Error built when the finished request is cancelled), which was a quarter
 * of the CPU of publishing 500-message batches. The protocol is the same: the stream
 * answers each message on its reply subject with a PubAck (`{"stream","seq","duplicate"}`)
 * or `{"error":{...}}`, and with a 503 status when no stream binds the subject.
 */
import type { MsgHdrs, NatsConnection, Msg, Subscription } from '@nats-io/nats-core';

/** Why a publish failed. */
export type PublishFailure =
  /** No stream binds the subject (the server answered "no responders"). */
  | { readonly kind: 'no-stream' }
  /** The stream refused the message; `code` is the JetStream API error code. */
  | { readonly kind: 'api'; readonly code: number; readonly description: string }
  /** No PubAck within the timeout (server down, reconnecting, overloaded). */
  | { readonly kind: 'timeout' }
  /** Larger than the server's `max_payload`: the client refused to send it. */
  | { readonly kind: 'too-large'; readonly description: string }
  /** The server refused the publish for lack of permission on the subject. */
  | { readonly kind: 'permission'; readonly description: string }
  /** The publisher or its connection was closed. */
  | { readonly kind: 'closed' };

/** A failed publish, with what is known about the reason. */
export class PublishFailedError extends Error {
  /** Why. */
  readonly failure: PublishFailure;

  constructor(failure: PublishFailure, message: string) {
    super(message);
    this.name = 'PublishFailedError';
    this.failure = failure;
  }
}

/** What the stream answered to a stored (or deduplicated) message. */
export interface PubAck {
  /** Stream sequence of the message (of the original when `duplicate`). */
  readonly seq: number;
  /** True when the stream dropped the message as a duplicate of one with the same `Nats-Msg-Id`. */
  readonly duplicate: boolean;
}

/** Publishes to JetStream and resolves when the stream acknowledged. */
export interface JsPublisher {
  /** Publish; resolves with the PubAck once the stream stored it (or dropped it as a duplicate of one it stored). */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs, timeoutMs: number): Promise<PubAck>;
  /** Fail every pending publish to `subject` (the server refused it, e.g. a permissions violation). */
  failSubject(subject: string, failure: PublishFailure, message: string): void;
  /** Fail everything pending and stop listening. */
  close(): void;
}

interface Pending {
  readonly subject: string;
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (err: PublishFailedError) => void;
  readonly deadline: number;
}

const decoder = new TextDecoder();

/** Create a publisher on `nc`; `inboxPrefix` must be unique to it (e.g. from `createInbox()`). */
export function createJsPublisher(nc: NatsConnection, inboxPrefix: string): JsPublisher {
  const pending = new Map<string, Pending>();
  let next = 0;
  let closed = false;

  function fail(token: string, err: PublishFailedError): void {
    const p = pending.get(token);
    if (!p) return;
    pending.delete(token);
    p.reject(err);
  }

  const sub: Subscription = nc.subscribe(`${inboxPrefix}.*`, {
    callback: (err: Error | null, msg: Msg) => {
      if (err) return; // the subscription failed: everything pending times out
      const token = msg.subject.slice(inboxPrefix.length + 1);
      const p = pending.get(token);
      if (!p) return; // late answer after a timeout
      const status = msg.headers?.code ?? 0;
      if (status === 503) {
        fail(token, new PublishFailedError({ kind: 'no-stream' }, 'no stream binds the subject (no responders)'));
        return;
      }
      let body: { error?: { err_code?: number; code?: number; description?: string }; seq?: number; duplicate?: boolean };
      try {
        body = JSON.parse(decoder.decode(msg.data)) as typeof body;
      } catch {
        fail(token, new PublishFailedError({ kind: 'api', code: status, description: 'unreadable PubAck' }, `unreadable PubAck (status ${status})`));
        return;
      }
      if (body.error) {
        const code = body.error.err_code ?? body.error.code ?? 0;
        const description = body.error.description ?? 'unknown error';
        fail(token, new PublishFailedError({ kind: 'api', code, description }, `stream refused the message: ${description} (${code})`));
        return;
      }
      pending.delete(token);
      p.resolve({ seq: body.seq ?? 0, duplicate: body.duplicate === true });
    },
  });

  // One sweep for all deadlines instead of a timer per message.
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const [token, p] of pending) {
      if (p.deadline <= now) fail(token, new PublishFailedError({ kind: 'timeout' }, 'no PubAck in time'));
    }
  }, 100);
  sweeper.unref();

  return {
    publish(subject, data, headers, timeoutMs) {
      if (closed) return Promise.reject(new PublishFailedError({ kind: 'closed' }, 'publisher is closed'));
      const token = (next++).toString(36);
      return new Promise<PubAck>((resolve, reject) => {
        pending.set(token, { subject, resolve, reject, deadline: Date.now() + timeoutMs });
        try {
          nc.publish(subject, data, { headers, reply: `${inboxPrefix}.${token}` });
        } catch (err) {
          pending.delete(token);
          const text = err instanceof Error ? err.message : String(err);
          // The client checks the size against the server's max_payload before sending.
          const failure: PublishFailure = /max_payload/i.test(text) ? { kind: 'too-large', description: text } : { kind: 'closed' };
          reject(new PublishFailedError(failure, `publish failed: ${text}`));
        }
      });
    },
    failSubject(subject, failure, message) {
      for (const [token, p] of pending) if (p.subject === subject) fail(token, new PublishFailedError(failure, message));
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      sub.unsubscribe();
      for (const token of [...pending.keys()]) fail(token, new PublishFailedError({ kind: 'closed' }, 'publisher closed'));
    },
  };
}
