import { flushDb, REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { testSecret } from '../helpers/secrets.js';
import { workloadSuite } from './shared/workload-suite.js';

/** The foundation's proof over Redis; the same suite runs over RabbitMQ in amqp-events.test.ts. */
workloadSuite({
  label: 'Redis',
  async setup() {
    await flushDb(REDIS_DB.events);
    return redisUrl(REDIS_DB.events);
  },
  // Redis here has no password: AUTH with one is accepted (and ignored) by the server.
  async exporterUrl(url) {
    return url.replace('redis://', `redis://:${testSecret('redis-events')}@`);
  },
  async teardown() {},
});
