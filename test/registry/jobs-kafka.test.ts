import { afterAll } from 'vitest';
import { cleanup, makeBus, topicName } from '../kafka/helpers.js';
import { registryJobCases } from './jobs-cases.js';

afterAll(cleanup);
registryJobCases('Kafka', { makeBus: () => makeBus(), queue: (p) => topicName(p), arrivalMs: 20_000 });
