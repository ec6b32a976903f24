import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unframe as unframeAmqp } from '../../src/broker/amqp/pidbox.js';
import { unframe as unframeRedis } from '../../src/broker/redis/pidbox-wire.js';
import type { NodeReply } from '../../src/remote/client.js';
import type { RawReply } from '../../src/remote/mailbox.js';
import { parseReply } from '../../src/remote/reply.js';
import { FIXTURES } from './fixtures.js';

/**
 * Remote-control traffic of three real Celery 5.2.6 workers (prefork -c 2, threads -c 3, solo),
 * captured by test/celery/capture_pidbox.py: Celery's own request per method, and the replies
 * to a raw-protocol replay of it (Redis list entries / AMQP bodies with their properties).
 */
export interface CapturedCall {
  method: string;
  celery_request: unknown;
  ticket: string;
  receivers?: number;
  replies: unknown[];
}

export interface CapturedPidbox {
  broker: 'redis' | 'amqp';
  workers: string[];
  calls: CapturedCall[];
}

export function capturedPidbox(kind: 'redis' | 'amqp'): CapturedPidbox {
  return JSON.parse(readFileSync(join(FIXTURES, 'pidbox', `${kind}.json`), 'utf8')) as CapturedPidbox;
}

/** A captured reply, unframed by the adapter of its broker. */
export function rawReply(kind: 'redis' | 'amqp', r: unknown): RawReply {
  if (kind === 'redis') return unframeRedis(r as string);
  const m = r as { body: string; properties: { content_type?: string; content_encoding?: string; application_headers?: unknown } };
  return unframeAmqp({
    content: Buffer.from(m.body),
    properties: { contentType: m.properties.content_type, contentEncoding: m.properties.content_encoding, headers: m.properties.application_headers },
  });
}

/** The replies of one captured call, as the client hands them to its callers. */
export function nodeReplies(kind: 'redis' | 'amqp', method: string, data = capturedPidbox(kind)): NodeReply[] {
  const call = data.calls.find((c) => c.method === method);
  if (call === undefined) throw new Error(`no captured ${method}`);
  const out: NodeReply[] = [];
  for (const r of call.replies) {
    const p = parseReply(rawReply(kind, r), call.ticket);
    if (p.kind !== 'reply') throw new Error(`captured ${method} reply did not parse: ${p.kind}`);
    for (const [hostname, value] of p.nodes) out.push({ hostname, value, elapsedMs: 5 });
  }
  return out;
}
