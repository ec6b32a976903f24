import type { Channel, ChannelModel } from 'amqplib';
import { COALESCE_BELOW_BYTES, COALESCE_MS } from '../read-coalescing.js';

/**
 * The event consumer's per-message path, read straight from amqplib's receive buffer.
 *
 * amqplib turns every delivery into three frames, each an object with its own Buffer views, decodes
 * the method arguments and every property (the headers table included), assembles a message object
 * and emits it twice. Profiled at 20k events/s, that is what made an event cost ~1.6× more on
 * RabbitMQ than on Redis, a third of the time going to the garbage collector. A no-ack consumer
 * of JSON bodies needs none of it: only where the body is and its content type and encoding.
 *
 * So the event connection's frame reader gets a front: a basic.deliver on the event channel whose
 * header and single body frame are already in the buffer is handed over as a view of the buffer
 * (with its delivery tag, for a consumer that acknowledges) and skipped; anything else (other channels, other methods, heartbeats, bodies split over several
 * frames, anything that does not check out) goes to amqplib untouched, which keeps connection,
 * channels, heartbeats, errors and the consumer's cancellation.
 *
 * The front also coalesces reads, as the Redis subscriber does (read-coalescing.ts): once a short
 * read has been handled and the stream is empty, it reads nothing for COALESCE_MS (Node buffers
 * what arrives up to the stream's high-water mark, then stops reading and the kernel holds the
 * rest) and then asks amqplib to read again, which takes everything gathered in one read().
 */

/**
 * Receives one delivery's body as a view of the buffer. The delivery tag and the redelivered bit
 * are for consumers that acknowledge (a named event queue, acks.ts); a no-ack consumer ignores them.
 */
export type DeliverySink = (
  buf: Buffer,
  start: number,
  end: number,
  contentType: string | undefined,
  contentEncoding: string | undefined,
  deliveryTag: number,
  redelivered: boolean,
) => void;

/** The frames at the offset may be a delivery, not complete yet: read more. */
export const NEED_MORE = -1;
/** The frame at the offset is amqplib's to read. */
export const NOT_MINE = -2;

const METHOD = 1;
const HEADER = 2;
const BODY = 3;
const FRAME_END = 0xce;
const BASIC = 60;
const DELIVER = 60;
/** class, method, 3 shortstrs at most 255 bytes each, delivery tag, redelivered. */
const MAX_DELIVER = 4 + 3 * 256 + 9;
const MIN_DELIVER = 4 + 3 + 9;
const JSON_TYPE = 'application/json';
const UTF8 = 'utf-8';

/** What readTypeAndEncoding found: module scratch, so the hot path allocates no object per delivery. */
const props: { type: string | undefined; encoding: string | undefined } = { type: undefined, encoding: undefined };

/**
 * content-type and content-encoding, the first two properties of the basic class (AMQP 0-9-1),
 * from the header frame's property list at `q` (flags say which are present) into `props`.
 * False when a property runs past the frame.
 */
function readTypeAndEncoding(buf: Buffer, q: number, hEnd: number, flags: number): boolean {
  props.type = undefined;
  props.encoding = undefined;
  if ((flags & 0x8000) !== 0) {
    const l = buf[q]!;
    if (q + 1 + l > hEnd) return false;
    props.type = shortstr(buf, q + 1, l, JSON_TYPE);
    q += 1 + l;
  }
  if ((flags & 0x4000) !== 0) {
    const l = buf[q]!;
    if (q + 1 + l > hEnd) return false;
    props.encoding = shortstr(buf, q + 1, l, UTF8);
  }
  return true;
}

/**
 * Reads one delivery at `off` of `buf`: hands its body to `sink` and returns the offset after it,
 * or NEED_MORE / NOT_MINE. Never throws and never reads past `buf`.
 */
export function readDelivery(buf: Buffer, off: number, channel: number, maxFrame: number, sink: DeliverySink): number {
  const n = buf.length;
  if (n - off < 7) return n > off && buf[off] !== METHOD ? NOT_MINE : NEED_MORE;
  if (buf[off] !== METHOD || buf.readUInt16BE(off + 1) !== channel) return NOT_MINE;
  const mSize = buf.readUInt32BE(off + 3);
  if (mSize < MIN_DELIVER || mSize > MAX_DELIVER) return NOT_MINE;
  const m = off + 7;
  const mEnd = m + mSize;
  if (n <= mEnd) return NEED_MORE;
  if (buf[mEnd] !== FRAME_END || buf.readUInt16BE(m) !== BASIC || buf.readUInt16BE(m + 2) !== DELIVER) return NOT_MINE;
  // consumer-tag, delivery-tag + redelivered, exchange, routing-key: must fill the frame exactly.
  let p = m + 4;
  const tagAt = p + 1 + buf[p]!;
  p = tagAt + 9;
  if (p >= mEnd) return NOT_MINE;
  p += 1 + buf[p]!;
  if (p >= mEnd) return NOT_MINE;
  p += 1 + buf[p]!;
  if (p !== mEnd) return NOT_MINE;

  const h = mEnd + 1;
  if (n - h < 7) return NEED_MORE;
  if (buf[h] !== HEADER || buf.readUInt16BE(h + 1) !== channel) return NOT_MINE;
  const hSize = buf.readUInt32BE(h + 3);
  if (hSize < 14 || hSize > maxFrame) return NOT_MINE;
  const hp = h + 7;
  const hEnd = hp + hSize;
  if (n <= hEnd) return NEED_MORE;
  if (buf[hEnd] !== FRAME_END || buf.readUInt16BE(hp) !== BASIC || buf.readUInt32BE(hp + 4) !== 0) return NOT_MINE;
  const bodySize = buf.readUInt32BE(hp + 8);
  const flags = buf.readUInt16BE(hp + 12);
  if (!readTypeAndEncoding(buf, hp + 14, hEnd, flags)) return NOT_MINE;
  const contentType = props.type;
  const contentEncoding = props.encoding;

  // A longlong; as a number it is exact up to 2^53 deliveries on one channel.
  const tag = buf.readUInt32BE(tagAt) * 0x1_0000_0000 + buf.readUInt32BE(tagAt + 4);
  const redelivered = (buf[tagAt + 8]! & 1) === 1;
  const b = hEnd + 1;
  // A zero-length body has no body frame.
  if (bodySize === 0) {
    sink(buf, b, b, contentType, contentEncoding, tag, redelivered);
    return b;
  }
  if (bodySize > maxFrame) return NOT_MINE;
  if (n - b < 7) return NEED_MORE;
  if (buf[b] !== BODY || buf.readUInt16BE(b + 1) !== channel || buf.readUInt32BE(b + 3) !== bodySize) return NOT_MINE;
  const bp = b + 7;
  const bEnd = bp + bodySize;
  if (n <= bEnd) return NEED_MORE;
  if (buf[bEnd] !== FRAME_END) return NOT_MINE;
  sink(buf, bp, bEnd, contentType, contentEncoding, tag, redelivered);
  return bEnd + 1;
}

/** A short string, without allocating when it is the value nearly every message carries. */
function shortstr(buf: Buffer, start: number, len: number, usual: string): string {
  if (len === usual.length) {
    let i = 0;
    while (i < len && buf[start + i] === usual.charCodeAt(i)) i++;
    if (i === len) return usual;
  }
  return buf.toString('utf8', start, start + len);
}

/** The parts of amqplib's Connection the front uses (lib/connection.js). */
interface FrameSource {
  recvFrame(): unknown;
  rest: Buffer;
  stream: { read(): Buffer | null; emit?(event: 'readable'): boolean; destroyed?: boolean };
  recvSinceLastCheck: boolean;
  frameMax: number;
}

/**
 * Puts the front on the connection's frame reader for `channel`'s deliveries. Returns the function
 * that takes it off, or undefined when amqplib's internals are not the expected shape (then every
 * message takes amqplib's own path, which stays correct, only slower).
 */
export function installDeliveryReader(model: ChannelModel, channel: Channel, sink: DeliverySink): (() => void) | undefined {
  const conn = (model as unknown as { connection?: Partial<FrameSource> }).connection;
  const ch = (channel as unknown as { ch?: unknown }).ch;
  if (conn === undefined || typeof ch !== 'number' || typeof conn.recvFrame !== 'function' || !Buffer.isBuffer(conn.rest)) return undefined;
  if (typeof conn.stream?.read !== 'function' || typeof conn.frameMax !== 'number') return undefined;
  const source = conn as FrameSource;
  const original = source.recvFrame;
  // RabbitMQ's frame_max (131072 by default); 0 means no limit was negotiated.
  const maxFrame = source.frameMax > 0 ? source.frameMax : 131_072;
  // Read coalescing: `paused` while the socket is left to gather; `short` when the last read was.
  let paused = false;
  let short = false;
  let timer: NodeJS.Timeout | undefined;
  const stream = source.stream;
  // amqplib reads on 'readable' (its mainloop calls recvFrame until it returns false).
  const resume = (): void => {
    timer = undefined;
    paused = false;
    if (stream.destroyed !== true) stream.emit?.('readable');
  };
  source.recvFrame = function front(this: FrameSource): unknown {
    if (paused) return false;
    let rest = this.rest;
    let off = 0;
    for (;;) {
      const r = readDelivery(rest, off, ch, maxFrame, sink);
      if (r >= 0) {
        off = r;
        continue;
      }
      if (off > 0) {
        rest = this.rest = rest.subarray(off);
        off = 0;
      }
      if (r === NOT_MINE) return original.call(this);
      const incoming = this.stream.read();
      if (incoming === null) {
        if (short) {
          short = false;
          paused = true;
          timer = setTimeout(resume, COALESCE_MS);
        }
        return false;
      }
      short = incoming.length < COALESCE_BELOW_BYTES;
      this.recvSinceLastCheck = true;
      rest = this.rest = rest.length === 0 ? incoming : Buffer.concat([rest, incoming]);
    }
  };
  return () => {
    if (source.recvFrame !== original) source.recvFrame = original;
    if (timer === undefined) return;
    // Taken off mid-pause: what was gathered meanwhile is amqplib's to read now.
    clearTimeout(timer);
    setImmediate(resume);
  };
}

/** basic.ack (class 60, method 80) with `multiple` set: frame header, 13 bytes of arguments, frame end. */
export function ackFrame(channel: number, deliveryTag: number): Buffer {
  const f = Buffer.allocUnsafe(7 + 13 + 1);
  f[0] = METHOD;
  f.writeUInt16BE(channel, 1);
  f.writeUInt32BE(13, 3);
  f.writeUInt16BE(BASIC, 7);
  f.writeUInt16BE(80, 9);
  f.writeUInt32BE(Math.floor(deliveryTag / 0x1_0000_0000), 11);
  f.writeUInt32BE(deliveryTag >>> 0, 15);
  f[19] = 1;
  f[20] = FRAME_END;
  return f;
}

/**
 * "Acknowledge everything up to this tag", written straight to the connection's socket. amqplib's
 * ch.ack() queues the frame for its multiplexer, which writes it on a later turn of the event loop
 * (setImmediate): a process killed in between has saved events whose ack never left, and RabbitMQ
 * redelivers them; they are then counted twice (seen: 340 tasks of a 401-task flood, killed right
 * after a scrape's save). Written here, the ack is in the kernel before the save's caller goes on.
 * Undefined when amqplib's internals are not as expected (then ch.ack() is the fallback).
 */
export function directAcker(model: ChannelModel, channel: Channel): ((deliveryTag: number) => void) | undefined {
  const conn = (model as unknown as { connection?: { stream?: { write?: unknown } } }).connection;
  const ch = (channel as unknown as { ch?: unknown }).ch;
  const stream = conn?.stream;
  if (typeof ch !== 'number' || stream === undefined || typeof stream.write !== 'function') return undefined;
  const socket = stream as { write(b: Buffer): boolean };
  return (tag) => void socket.write(ackFrame(ch, tag));
}
