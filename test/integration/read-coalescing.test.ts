import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, expect, it } from 'vitest';
import { RedisEventSubscriber } from '../../src/broker/redis/event-subscriber.js';
import { parseBrokerUrl } from '../../src/config/broker-url.js';
import { decodeEnvelope } from '../../src/decoder/envelope.js';
import type { Invalid } from '../../src/decoder/invalid.js';
import { REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { waitFor } from '../helpers/metrics.js';
import { envelope } from '../unit/fixtures.js';

/**
 * The Redis event subscriber pauses 16 ms after a short read (src/broker/read-coalescing.ts): at a
 * steady trickle, messages then arrive in groups rather than one read each, and none is lost or
 * reordered. (The RabbitMQ front's twin is in amqp-delivery-reader.test.ts.)
 */
let subscriber: RedisEventSubscriber | undefined;
let publisher: Redis | undefined;

afterAll(async () => {
  await subscriber?.stop();
  publisher?.disconnect();
});

it('coalesces reads at a steady trickle: messages arrive in groups, none lost, in order', async () => {
  const db = REDIS_DB.readCoalescing;
  const got: Array<{ at: number; body: string | Invalid }> = [];
  let ready = false;
  subscriber = new RedisEventSubscriber(
    { url: parseBrokerUrl(redisUrl(db)), transportOptions: {} },
    { pipeline: { onBody: (body) => got.push({ at: performance.now(), body }) }, onReadyChange: (r) => (ready = r) },
    pino({ level: 'silent' }),
  );
  subscriber.start();
  await waitFor(async () => ready, (r) => r, { what: 'subscriber ready' });
  publisher = new Redis(redisUrl(db));
  const N = 150;
  const bodies = Array.from({ length: N }, (_, i) => ({ type: 'task-sent', n: i }));
  // One message every 2 ms (not waiting for each reply, so the pace is the timer's): read as
  // they come, nearly every one is its own read.
  for (const b of bodies) {
    void publisher.publish(`/${db}.celeryev/task.multi`, envelope(b));
    await new Promise((r) => setTimeout(r, 2));
  }
  await waitFor(async () => got.length, (n) => n >= N, { what: 'all messages' });
  expect(got.map((g) => g.body)).toEqual(bodies.map((b) => decodeEnvelope(envelope(b))));
  // A group: messages handed over within 1 ms of the previous one (one read).
  const groups = got.filter((g, i) => i === 0 || g.at - got[i - 1]!.at > 1).length;
  // Without the pause: 146 groups; with it about 50 (chunks gathered during a pause are handed
  // over one per pause, event-session.ts says why).
  expect(groups).toBeLessThanOrEqual(N / 2);
});
