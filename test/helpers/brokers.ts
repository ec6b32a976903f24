import { inject } from 'vitest';
import { Redis } from 'ioredis';

/**
 * Redis databases by test file, so files never see each other's events (Redis pub/sub channels
 * carry the DB number: /{db}.celeryev/…). Keep this table the single place that hands them out.
 */
export const REDIS_DB = {
  events: 1,
  golden: 2,
  cli: 3,
  queues: 4,
  queuesPrefix: 5,
  queueFreshness: 6,
  readCoalescing: 7,
  remoteControl: 8,
  remoteControlLeftovers: 9,
  hardening: 10,
  hardeningFaults: 11,
  continuity: 12,
  bundle: 14,
  bench: 13,
  periodic: 15,
} as const;

export function redisUrl(db: number): string {
  return `${inject('redisUrl')}/${db}`;
}

export async function flushDb(db: number): Promise<void> {
  const r = new Redis(redisUrl(db), { lazyConnect: true });
  await r.connect();
  await r.flushdb();
  r.disconnect();
}

export function amqpUrl(vhost = '/'): string {
  const base = inject('amqpUrl');
  if (base === null) throw new Error('no RabbitMQ: set AMQP_URL or start rabbitmq-server on 127.0.0.1:5672');
  return `${base}/${encodeURIComponent(vhost)}`;
}
