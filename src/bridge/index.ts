export { createEventBusBridge, type BridgeCounters, type EventBusBridge, type EventBusBridgeOptions } from './bridge.js';
