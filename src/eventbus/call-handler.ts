import type { Delivery, DeliveryHandler } from './types.js';

/**
 * Run a subscription handler and always get a promise back: a handler that throws
 * synchronously (or returns a non-promise) is treated like one that rejected (resolved).
 */
export function callHandler(handler: DeliveryHandler, delivery: Delivery): Promise<void> {
  try {
    return Promise.resolve(handler(delivery));
  } catch (err) {
    return Promise.reject(err);
  }
}
