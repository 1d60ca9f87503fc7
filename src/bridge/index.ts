export { createEventBusBridge, type EventBusBridge, type EventBusBridgeOptions } from './bridge.js';
