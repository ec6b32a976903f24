import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export interface CapturedMessage {
  channel: string;
  data: string;
}

/** Messages captured from a real Celery 5.2.6 worker by test/celery/capture_fixtures.py. */
export function capturedRedisMessages(): CapturedMessage[] {
  return readFileSync(join(FIXTURES, 'redis-events.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as CapturedMessage);
}

/** Builds a kombu envelope around a body, exactly as kombu does (base64 body first). */
export function envelope(body: unknown, routingKey = 'task.multi', hostname = 'w1@probe'): string {
  const b64 = Buffer.from(JSON.stringify(body)).toString('base64');
  return JSON.stringify({
    body: b64,
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers: { hostname },
    properties: {
      delivery_mode: 1,
      delivery_info: { exchange: 'celeryev', routing_key: routingKey },
      priority: 0,
      body_encoding: 'base64',
      delivery_tag: '00000000-0000-0000-0000-000000000000',
    },
  }).replace(/":/g, '": ').replace(/,"/g, ', "');
}

export interface CapturedAmqpMessage {
  routing_key: string;
  content_type: string | null;
  content_encoding: string | null;
  headers: Record<string, unknown> | null;
  delivery_mode: number | null;
  body: string;
}

/** Messages captured off RabbitMQ from a real Celery 5.2.6 worker by test/celery/capture_amqp_fixtures.py. */
export function capturedAmqpMessages(): CapturedAmqpMessage[] {
  return readFileSync(join(FIXTURES, 'amqp-events.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as CapturedAmqpMessage);
}
