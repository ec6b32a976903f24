import { decodeEnvelopeBuffer } from '../../decoder/envelope.js';
import { Invalid } from '../../decoder/invalid.js';
import type { EventSink } from '../transport.js';

/**
 * The Redis transport's part of an event's path: one pub/sub message as the RESP reader hands it
 * over (resp.ts, a view of the socket buffer), its kombu envelope decoded (decoder/envelope.ts,
 * docs/protocol.md §2.1), the body given to the pipeline's one entry point.
 */
export function redisEventMessages(sink: EventSink): (buf: Buffer, start: number, end: number) => void {
  return (buf, start, end) => sink.onBody(decodeRedisEvent(buf, start, end));
}

/** The body text of one message, or why it was rejected. Never throws. */
export function decodeRedisEvent(buf: Buffer, start: number, end: number): string | Invalid {
  try {
    return decodeEnvelopeBuffer(buf, start, end);
  } catch {
    // Only a string over V8's limit (a ~512 MB message) can throw; counted as the pipeline counted it.
    return Invalid.of.bad_value;
  }
}
