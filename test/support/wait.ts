export { waitFor, deferred, elapse } from '../../src/testing/wait.js';
