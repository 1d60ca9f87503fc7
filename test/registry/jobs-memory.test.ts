import { createMemoryEventBus } from '../../src/eventbus/memory/bus.js';
import { uniqueName } from '../setup/env.js';
import { registryJobCases } from './jobs-cases.js';

registryJobCases('memory', { makeBus: () => Promise.resolve(createMemoryEventBus()), queue: (p) => uniqueName(p), arrivalMs: 5_000 });
