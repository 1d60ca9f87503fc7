export { createMemoryEventBus, type MemoryEventBus, type MemoryEventBusOptions } from './bus.js';
