import { createVhost, type TestVhost } from './rabbitmq.js';
import { OwnRedis } from './redis-server.js';

/** One broker a suite runs on: setup returns the broker URL, teardown removes what setup made. */
export interface TestBroker {
  label: string;
  setup(): Promise<string>;
  teardown(): Promise<void>;
}

/** A redis-server and a RabbitMQ vhost of the test's own, for suites that run on each broker. */
export function ownBrokers(purpose: string): TestBroker[] {
  let redis: OwnRedis | undefined;
  let vhost: TestVhost | undefined;
  return [
    {
      label: 'Redis',
      async setup() {
        redis = await OwnRedis.start();
        return redis.url(0);
      },
      async teardown() {
        await redis?.stop();
      },
    },
    {
      label: 'RabbitMQ',
      async setup() {
        vhost = await createVhost(purpose);
        return vhost.url;
      },
      async teardown() {
        await vhost?.remove();
      },
    },
  ];
}
