import { afterAll } from 'vitest';
import { natsScope, uniqueName } from '../nats/helpers.js';
import { statsCases } from './stats-cases.js';

const scope = natsScope('stats');
afterAll(() => scope.cleanup());
statsCases('NATS', { makeBus: () => scope.bus(), queue: (p) => uniqueName(`stats-${p}`), convergeMs: 10_000, tells: { inFlight: true, delayed: true, oldest: true } });
