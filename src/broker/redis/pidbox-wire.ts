import { randomUUID } from 'node:crypto';
import { decodeEnvelope } from '../../decoder/envelope.js';
import { Invalid } from '../../decoder/invalid.js';
import { parseJsonTolerant } from '../../decoder/json.js';
import type { RawReply } from '../../remote/mailbox.js';
import type { PidboxNames, PidboxRequest, RequestHeaders } from '../../remote/protocol.js';

/** How a remote-control request and its replies are framed on Redis (kombu's JSON envelope). */

/** The kombu envelope of a pidbox request (docs/protocol.md §2.1, §5.5). */
export function envelope(request: PidboxRequest, headers: RequestHeaders, names: PidboxNames): string {
  return JSON.stringify({
    body: Buffer.from(JSON.stringify(request)).toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers,
    properties: {
      delivery_mode: 2,
      delivery_info: { exchange: names.requestExchange, routing_key: '' },
      priority: 0,
      body_encoding: 'base64',
      delivery_tag: randomUUID(),
    },
  });
}

/** A reply list entry → headers and body text. */
export function unframe(raw: string): RawReply {
  let env: unknown;
  try {
    env = parseJsonTolerant(raw);
  } catch {
    return { invalid: 'envelope' };
  }
  if (typeof env !== 'object' || env === null || Array.isArray(env)) return { invalid: 'envelope' };
  const body = decodeEnvelope(raw);
  if (body instanceof Invalid) return { invalid: body.reason };
  const h = (env as Record<string, unknown>)['headers'];
  const headers = typeof h === 'object' && h !== null && !Array.isArray(h) ? (h as Record<string, unknown>) : {};
  return { headers, text: body };
}
