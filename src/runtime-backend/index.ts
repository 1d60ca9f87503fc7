export { createRuntimeBackend, type RuntimeBackend, type RuntimeBackendOptions } from './backend.js';
