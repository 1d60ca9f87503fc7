/**
 * How a subscriber's acks reach the server, per `ackMode`, and what `close()` waits for.
 */
import type { Logger } from 'pino';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import { ACK } from './protocol.js';

/** Sends acks and tracks their confirmations. */
export interface Acker {
  /** Acknowledge a delivered message (`position` for logs). */
  ack(msg: Msg, position: string): void;
  /** Write the acks waiting for the end of this event-loop turn now. */
  flush(): void;
  /** Confirmations not settled yet (close() waits for them, bounded). */
  pending(): Promise<unknown>[];
}

/** What an {@link Acker} needs. */
export interface AckerConfig {
  readonly nc: NatsConnection;
  readonly ackMode: 'confirmed' | 'flushed' | 'fast';
  readonly settleTimeoutMs: number;
  readonly logger: Logger;
  readonly topic: string;
}

/** Create the acker of one subscriber. */
export function createAcker(cfg: AckerConfig): Acker {
  const confirmations = new Set<Promise<unknown>>();
  /** Acks waiting to be written together at the end of this event-loop turn. */
  let outbox: Msg[] = [];

  function track(p: Promise<unknown>): void {
    confirmations.add(p);
    void p.finally(() => confirmations.delete(p));
  }

  /**
   * Write a turn's acks at once: the client coalesces what is sent within one microtask
   * into one socket write, and a write per ack was a fifth of a busy bus's CPU. In mode
   * `flushed` one PING/PONG round trip then confirms the server received the whole burst
   * (it applies acks in order), instead of a request per ack.
   */
  function flush(): void {
    const batch = outbox;
    outbox = [];
    if (batch.length === 0) return;
    for (const m of batch) m.respond(ACK);
    if (cfg.ackMode !== 'flushed') return;
    track(
      cfg.nc.flush().catch((err: unknown) => {
        cfg.logger.warn({ err, topic: cfg.topic, acks: batch.length }, 'acks not confirmed; those messages are redelivered after ack wait');
      }),
    );
  }

  return {
    ack(msg, position) {
      if (cfg.ackMode === 'confirmed') {
        if (!msg.reply) return;
        track(
          cfg.nc.request(msg.reply, ACK, { timeout: cfg.settleTimeoutMs }).catch((err: unknown) => {
            cfg.logger.warn({ err, topic: cfg.topic, position }, 'ack not confirmed; the message is redelivered after ack wait');
          }),
        );
        return;
      }
      if (outbox.length === 0) setImmediate(flush);
      outbox.push(msg);
    },
    flush,
    pending: () => [...confirmations],
  };
}
