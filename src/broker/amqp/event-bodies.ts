import { decodeAmqpBody } from '../../decoder/body.js';
import { Invalid } from '../../decoder/invalid.js';
import type { EventSink } from '../transport.js';

/** One message body (a view from `start` to `end`) with its content type and encoding. */
export type BodySink = (buf: Buffer, start: number, end: number, contentType: string | undefined, contentEncoding: string | undefined) => void;

/**
 * The AMQP transport's part of an event's path: one body (a view of the receive buffer from
 * delivery-reader.ts, or amqplib's message content) with its content type and encoding, checked
 * and decoded (decoder/body.ts, docs/protocol.md §1.3), given to the pipeline's one entry point.
 */
export function amqpEventBodies(sink: EventSink): BodySink {
  return (buf, start, end, contentType, contentEncoding) => sink.onBody(decodeAmqpEvent(buf, start, end, contentType, contentEncoding));
}

/** The body text of one message, or why it was rejected. Never throws. */
export function decodeAmqpEvent(buf: Buffer, start: number, end: number, contentType: string | undefined, contentEncoding: string | undefined): string | Invalid {
  try {
    return decodeAmqpBody(buf, contentType, contentEncoding, start, end);
  } catch {
    // Only a string over V8's limit (a ~512 MB body) can throw; counted as the pipeline counted it.
    return Invalid.of.bad_value;
  }
}
