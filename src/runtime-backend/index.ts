export { createRuntimeBackend, type BackendCounters, type RuntimeBackend, type RuntimeBackendOptions } from './backend.js';
