import { createVhost, type TestVhost } from '../helpers/rabbitmq.js';
import { testSecret } from '../helpers/secrets.js';
import { workloadSuite } from './shared/workload-suite.js';

/** The Redis suite, unchanged, over RabbitMQ: a real Celery worker with BROKER_URL=amqp://…/<vhost>. */
let vhost: TestVhost | undefined;

workloadSuite({
  label: 'RabbitMQ',
  async setup() {
    vhost = await createVhost('events');
    return vhost.url;
  },
  // A user of its own with a distinctive password, so the suite-wide log scan can look for it.
  async exporterUrl(url) {
    return vhost!.addUser(testSecret('amqp-events'), url);
  },
  async teardown() {
    await vhost?.remove();
  },
});
