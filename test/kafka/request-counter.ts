/**
 * Counts the Kafka requests clients send through a TCP proxy (test/chaos/infra/tcp-proxy.ts
 * `onClientData`), by API key: how many produce requests a burst of publishes took. Reads only
 * the frame header every request starts with (int32 size, int16 api key).
 */

/** Kafka API keys the tests count. */
export const API_KEYS = { produce: 0 } as const;

/** A request counter to hand to the proxy. */
export interface RequestCounter {
  /** The proxy's `onClientData`. */
  readonly observe: (connection: number, chunk: Buffer) => void;
  /** Requests seen so far with `apiKey`. */
  count(apiKey: number): number;
}

/** A counter over every connection of a proxy. */
export function requestCounter(): RequestCounter {
  const counts = new Map<number, number>();
  /** Per connection: bytes of a frame header not yet complete, and bytes of the current frame still to skip. */
  const streams = new Map<number, { head: Buffer; skip: number }>();
  return {
    observe(connection, chunk) {
      let s = streams.get(connection);
      if (!s) streams.set(connection, (s = { head: Buffer.alloc(0), skip: 0 }));
      let at = 0;
      while (at < chunk.length) {
        if (s.skip > 0) {
          const n = Math.min(s.skip, chunk.length - at);
          s.skip -= n;
          at += n;
          continue;
        }
        const need = 6 - s.head.length;
        s.head = Buffer.concat([s.head, chunk.subarray(at, at + need)]);
        at += Math.min(need, chunk.length - at);
        if (s.head.length < 6) break;
        const size = s.head.readInt32BE(0);
        const apiKey = s.head.readInt16BE(4);
        counts.set(apiKey, (counts.get(apiKey) ?? 0) + 1);
        s.skip = size - 2; // the api key was part of the frame
        s.head = Buffer.alloc(0);
      }
    },
    count: (apiKey) => counts.get(apiKey) ?? 0,
  };
}
