import { afterAll } from 'vitest';
import { cleanup, makeBus, topicName } from '../kafka/helpers.js';
import { statsCases } from './stats-cases.js';

afterAll(cleanup);
// Kafka tells no in-flight count (only commits count), and its commits lag a little: the cases poll.
statsCases('Kafka', { makeBus: () => makeBus(), queue: (p) => topicName(`stats-${p}`), convergeMs: 25_000, tells: { inFlight: false, delayed: true, oldest: false } });
