import type { RawEvent } from '../events/vocabulary.js';
import { Invalid } from './invalid.js';
import { parseJsonTolerant } from './json.js';

/**
 * Parses an event body: one event object, or an array of them (`task.multi`, docs/protocol.md §4).
 * Returns the parsed value for the pipeline to walk, or why it was rejected.
 */
export function parseBody(text: string): RawEvent | RawEvent[] | Invalid {
  let v: unknown;
  try {
    v = parseJsonTolerant(text);
  } catch {
    return Invalid.of.json;
  }
  if (typeof v !== 'object' || v === null) return Invalid.of.shape;
  return v as RawEvent | RawEvent[];
}

const AMQP_JSON = new Set(['application/json', 'application/x-json', 'text/json']);

/** AMQP bodies are plain JSON with the serializer in the content_type property (docs/protocol.md §1.3). */
export function decodeAmqpBody(body: Buffer, contentType: string | undefined, contentEncoding: string | undefined, start = 0, end = body.length): string | Invalid {
  // The exact strings Celery sends are checked first: no lower-casing or regex per message.
  if (contentType !== undefined && contentType !== 'application/json' && !AMQP_JSON.has(contentType.toLowerCase())) return Invalid.of.content_type;
  if (contentEncoding !== undefined && contentEncoding !== 'utf-8' && contentEncoding !== '' && !/^utf-?8$/i.test(contentEncoding)) {
    return Invalid.of.encoding;
  }
  return body.toString('utf8', start, end);
}
