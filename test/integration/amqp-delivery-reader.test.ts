import { connect } from 'amqplib';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { AmqpEventConsumer, EVENT_EXCHANGE } from '../../src/broker/amqp/event-consumer.js';
import { amqpOptions, buildAmqpConfig } from '../../src/config/amqp-config.js';
import { defaultsOf } from '../../src/config/argv.js';
import { parseBrokerUrl } from '../../src/config/broker-url.js';
import { Invalid } from '../../src/decoder/invalid.js';
import { waitFor } from '../helpers/metrics.js';
import { createVhost, type TestVhost } from '../helpers/rabbitmq.js';

/**
 * The event consumer on a real RabbitMQ reads deliveries through its front on amqplib's frame
 * reader (delivery-reader.ts); a body larger than RabbitMQ's frame_max comes in several body
 * frames and takes amqplib's path. Both arrive, in publish order, with their properties.
 * The front's sink is wrapped to see which body came through it, with the raw properties.
 */
const front = vi.hoisted(() => ({ inside: false, seen: [] as Array<{ type: string | undefined; encoding: string | undefined }> }));
vi.mock('../../src/broker/amqp/delivery-reader.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/broker/amqp/delivery-reader.js')>();
  const install: typeof real.installDeliveryReader = (model, channel, sink) =>
    real.installDeliveryReader(model, channel, (buf, start, end, type, encoding, tag, redelivered) => {
      front.seen.push({ type, encoding });
      front.inside = true;
      try {
        sink(buf, start, end, type, encoding, tag, redelivered);
      } finally {
        front.inside = false;
      }
    });
  return { ...real, installDeliveryReader: install };
});
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
  const got: Array<{ path: 'front' | 'amqplib'; body: string | Invalid }> = [];
  let ready = false;
  const url = parseBrokerUrl(vhost.url);
  consumer = new AmqpEventConsumer(
    { url, transportOptions: {} },
    buildAmqpConfig(defaultsOf(amqpOptions), url),
    {
      pipeline: { onBody: (body) => got.push({ path: front.inside ? 'front' : 'amqplib', body }) },
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
  // The text/plain body is rejected by its content type, as every transport's sink would count it.
  expect(got.map((g) => g.body)).toEqual([bodies[0], bodies[1], Invalid.of.content_type, bodies[3]]);
  expect(got.map((g) => g.path)).toEqual(['front', 'amqplib', 'front', 'front']);
  expect(front.seen[0]).toEqual({ type: 'application/json', encoding: 'utf-8' });
  expect(front.seen[1]).toEqual({ type: 'text/plain', encoding: undefined });
});

it('coalesces reads at a steady trickle: deliveries arrive in groups, none lost, in order', async () => {
  // Published one every 2 ms: read as they come, nearly every delivery is its own read; with the
  // 16 ms pause after a short read (read-coalescing.ts) they arrive about 8 at a time.
  await consumer?.stop();
  const got: Array<{ at: number; body: string | Invalid }> = [];
  let ready = false;
  const url = parseBrokerUrl(vhost.url);
  consumer = new AmqpEventConsumer(
    { url, transportOptions: {} },
    buildAmqpConfig(defaultsOf(amqpOptions), url),
    { pipeline: { onBody: (body) => got.push({ at: performance.now(), body }) }, onReadyChange: (r) => (ready = r) },
    pino({ level: 'silent' }),
  );
  consumer.start();
  await waitFor(async () => ready, (r) => r, { what: 'consumer ready' });
  const conn = await connect(vhost.url);
  const ch = await conn.createChannel();
  const N = 150;
  for (let i = 0; i < N; i++) {
    ch.publish(EVENT_EXCHANGE, 'task.multi', Buffer.from(`{"type": "task-sent", "n": ${i}}`), { contentType: 'application/json', contentEncoding: 'utf-8' });
    await new Promise((r) => setTimeout(r, 2));
  }
  await waitFor(async () => got.length, (n) => n >= N, { what: 'all messages' });
  await ch.close();
  await conn.close();
  expect(got.map((g) => g.body)).toEqual(Array.from({ length: N }, (_, i) => `{"type": "task-sent", "n": ${i}}`));
  // A group: deliveries handed over within 1 ms of the previous one (one read).
  const groups = got.filter((g, i) => i === 0 || g.at - got[i - 1]!.at > 1).length;
  expect(groups).toBeLessThanOrEqual(N / 4);
});
