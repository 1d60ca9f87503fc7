export {
  createWorker,
  currentJob,
  type Worker,
  type WorkerOptions,
  type WorkerHooks,
  type JobHandler,
  type JobContext,
  type JobOutcome,
  type Middleware,
} from './worker.js';
export { exponentialBackoff, backoffDelay } from './backoff.js';
