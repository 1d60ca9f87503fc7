import { afterAll } from 'vitest';
import { natsScope, uniqueName } from '../nats/helpers.js';
import { faceCases } from './face-cases.js';

const scope = natsScope('face');
afterAll(() => scope.cleanup());
faceCases('NATS', { makeBus: () => scope.bus(), queue: (p) => uniqueName(`face-${p}`), arrivalMs: 10_000 });
