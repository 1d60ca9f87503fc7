import { afterAll } from 'vitest';
import { cleanup, makeBus, topicName } from '../kafka/helpers.js';
import { faceCases } from './face-cases.js';

afterAll(cleanup);
faceCases('Kafka', { makeBus: () => makeBus(), queue: (p) => topicName(`face-${p}`), arrivalMs: 20_000 });
