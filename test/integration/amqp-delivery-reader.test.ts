import { connect } from 'amqplib';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AmqpEventConsumer, EVENT_EXCHANGE } from '../../src/broker/amqp/event-consumer.js';
import { amqpOptions, buildAmqpConfig } from '../../src/config/amqp-config.js';
import { defaultsOf } from '../../src/config/argv.js';
import { parseBrokerUrl } from '../../src/config/broker-url.js';
import { waitFor } from '../helpers/metrics.js';
import { createVhost, type TestVhost } from '../helpers/rabbitmq.js';

/**
 * The event consumer on a real RabbitMQ reads deliveries through its front on amqplib's frame
 * reader (delivery-reader.ts); a body larger than RabbitMQ's frame_max comes in several body
 * frames and takes amqplib's path. Both arrive, in publish order, with their properties.
 */
let vhost: TestVhost;
let consumer: AmqpEventConsumer | undefined;

beforeAll(async () => {
  vhost = await createVhost('reader');
});

afterAll(async () => {
  await consumer?.stop();
  await vhost?.remove();
});

it('reads deliveries from the frame buffer, and leaves split bodies to amqplib', async () => {
  const got: Array<{ path: 'front' | 'amqplib'; body: string; type: string | undefined; encoding: string | undefined }> = [];
  let ready = false;
  const url = parseBrokerUrl(vhost.url);
  consumer = new AmqpEventConsumer(
    { url, transportOptions: {} },
    buildAmqpConfig(defaultsOf(amqpOptions), url),
    {
      pipeline: {
        onRedisMessage: () => undefined,
        onRedisMessageBuffer: () => undefined,
        onAmqpMessage: (b, type, encoding) => got.push({ path: 'amqplib', body: b.toString(), type, encoding }),
        onAmqpBody: (b, s, e, type, encoding) => got.push({ path: 'front', body: b.toString('utf8', s, e), type, encoding }),
      },
      onReadyChange: (r) => (ready = r),
    },
    pino({ level: 'silent' }),
  );
  consumer.start();
  await waitFor(async () => ready, (r) => r, { what: 'consumer ready' });
  expect(consumer.fastPath).toBe(true);

  const big = `[${'{"type": "custom"},'.repeat(20_000)}{"type": "custom"}]`; // ~380 kB > frame_max
  const bodies = ['[{"type": "task-sent"}]', big, '{"type": "worker-heartbeat"}', ''];
  const conn = await connect(vhost.url);
  const ch = await conn.createChannel();
  for (const [i, b] of bodies.entries()) {
    ch.publish(EVENT_EXCHANGE, 'task.multi', Buffer.from(b), i === 2 ? { contentType: 'text/plain' } : { contentType: 'application/json', contentEncoding: 'utf-8' });
  }
  await ch.close();
  await conn.close();
  await waitFor(async () => got.length, (n) => n >= bodies.length, { what: 'all messages' });
  expect(got.map((g) => g.body)).toEqual(bodies);
  expect(got.map((g) => g.path)).toEqual(['front', 'amqplib', 'front', 'front']);
  expect(got[0]).toMatchObject({ type: 'application/json', encoding: 'utf-8' });
  expect(got[2]).toMatchObject({ type: 'text/plain', encoding: undefined });
});
