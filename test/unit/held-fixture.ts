/** A buffered held job for the runtime backend's unit tests (as the backend makes one on delivery). */
import { createJob } from '../../src/index.js';
import type { Held } from '../../src/runtime-backend/held.js';

/** A held job in state `buffered`, never leased; `id` fixes its job id. */
export function bufferedHeld(id?: string): Held {
  return {
    queue: 'q',
    job: createJob({ ...(id !== undefined && { id }), name: 'n', queue: 'q', payload: 'x' }),
    deliveryCount: 1,
    delivery: { working: () => undefined },
    signal: undefined,
    resolve: () => undefined,
    reject: () => undefined,
    state: 'buffered',
    token: undefined,
    leaseSeq: undefined,
    expiresAt: undefined,
  };
}
