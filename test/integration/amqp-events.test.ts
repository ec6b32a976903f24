import { createVhost, type TestVhost } from '../helpers/rabbitmq.js';
import { workloadSuite } from './shared/workload-suite.js';

/** The Redis suite, unchanged, over RabbitMQ: a real Celery worker with BROKER_URL=amqp://…/<vhost>. */
let vhost: TestVhost | undefined;

workloadSuite({
  label: 'RabbitMQ',
  async setup() {
    vhost = await createVhost('events');
    return vhost.url;
  },
  async teardown() {
    await vhost?.remove();
  },
});
