import { afterAll } from 'vitest';
import { natsScope, uniqueName } from '../nats/helpers.js';
import { registryJobCases } from './jobs-cases.js';

const scope = natsScope('registry');
afterAll(() => scope.cleanup());
registryJobCases('NATS', { makeBus: () => scope.bus(), queue: (p) => uniqueName(p), arrivalMs: 10_000 });
