import { bytesAt } from '../../util/bytes.js';

/**
 * The part of RESP2 a pub/sub subscriber needs: encode commands, and read the replies that
 * arrive on a subscribed connection (simple strings, errors, integers, bulk strings, arrays of
 * those). Bulk payloads are handed over as (buffer, start, end) views of the socket data, so the
 * event decoder can read a message without it ever being copied into a JS string.
 */

export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
  }
  return Buffer.concat(parts);
}

const CRLF = Buffer.from('\r\n');

/** A reply that is not a pub/sub message: +OK, -ERR …, :n, or an array (subscribe confirmations, pong). */
export type Reply = string | number | Error | null | Reply[];

export interface RespHandlers {
  /** A `pmessage` (or `message`) push: the payload is buf[start, end). Must not keep `buf`. */
  onMessage(buf: Buffer, start: number, end: number): void;
  onReply(reply: Reply): void;
}

const INCOMPLETE = -1;
const PMESSAGE = Buffer.from('pmessage');
const MESSAGE = Buffer.from('message');
/** Largest frame accepted (Redis's own proto-max-bulk-len is 512 MB); beyond it we drop the connection. */
export const MAX_FRAME = 512 * 1024 * 1024;

export class RespError extends Error {}

/**
 * Incremental reader: feed() it socket chunks in order. A frame split across chunks is kept,
 * and when its size is known the pieces are joined once (not on every chunk), so a multi-MB
 * message costs one copy.
 */
export class RespReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes needed before parsing is worth retrying (0 = unknown, retry on every chunk). */
  private need = 0;

  constructor(private readonly h: RespHandlers) {}

  feed(chunk: Buffer): void {
    let buf: Buffer;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.need) return;
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    } else {
      buf = chunk;
    }
    let pos = 0;
    while (pos < buf.length) {
      const next = this.frame(buf, pos);
      if (next === INCOMPLETE) break;
      pos = next;
    }
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      this.pending = [rest];
      this.pendingBytes = rest.length;
    }
  }

  reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.need = 0;
  }

  /** Parses one top-level frame at pos; returns the position after it or INCOMPLETE. */
  private frame(buf: Buffer, pos: number): number {
    if (buf[pos] === 42 /* * */) {
      const lineEnd = crAt(buf, pos);
      if (lineEnd < 0 || lineEnd + 1 >= buf.length) return this.incomplete(0);
      const n = readInt(buf, pos + 1, lineEnd);
      let p = lineEnd + 2;
      // The hot case: ["pmessage", pattern, channel, payload] or ["message", channel, payload].
      if ((n === 4 || n === 3) && buf[p] === 36 /* $ */) {
        const kind = this.bulkAt(buf, p);
        if (kind === null) return this.incomplete(0);
        const word = n === 4 ? PMESSAGE : MESSAGE;
        const isMsg = kind.end - kind.start === word.length && bytesAt(buf, kind.start, word);
        if (isMsg) {
          p = kind.next;
          for (let i = 1; i < n - 1; i++) {
            const skip = this.bulkAt(buf, p);
            if (skip === null) return this.incomplete(0);
            p = skip.next;
          }
          const payload = this.bulkAt(buf, p);
          if (payload === null) return this.incomplete(this.needFor(buf, p, pos));
          this.need = 0;
          this.h.onMessage(buf, payload.start, payload.end);
          return payload.next;
        }
      }
      const items: Reply[] = [];
      for (let i = 0; i < n; i++) {
        const r = this.value(buf, p);
        if (r === null) return this.incomplete(0);
        items.push(r.value);
        p = r.next;
      }
      this.need = 0;
      this.h.onReply(n < 0 ? null : items);
      return p;
    }
    const r = this.value(buf, pos);
    if (r === null) return this.incomplete(0);
    this.need = 0;
    this.h.onReply(r.value);
    return r.next;
  }

  private incomplete(need: number): number {
    this.need = need;
    return INCOMPLETE;
  }

  /** Bytes the frame starting at framePos needs, once the header of its payload bulk at p is readable. */
  private needFor(buf: Buffer, p: number, framePos: number): number {
    const lineEnd = crAt(buf, p);
    if (lineEnd < 0) return 0;
    const len = readInt(buf, p + 1, lineEnd);
    if (len > MAX_FRAME) throw new RespError(`frame of ${len} bytes exceeds the limit`);
    return lineEnd + 2 + len + 2 - framePos;
  }

  private bulkAt(buf: Buffer, p: number): { start: number; end: number; next: number } | null {
    if (p >= buf.length) return null;
    if (buf[p] !== 36) throw new RespError(`expected a bulk string, got ${JSON.stringify(String.fromCharCode(buf[p]!))}`);
    const lineEnd = crAt(buf, p);
    if (lineEnd < 0 || lineEnd + 1 >= buf.length) return null;
    const len = readInt(buf, p + 1, lineEnd);
    if (len > MAX_FRAME) throw new RespError(`bulk of ${len} bytes exceeds the limit`);
    const start = lineEnd + 2;
    if (len < 0) return { start, end: start, next: start };
    const end = start + len;
    if (end + 2 > buf.length) return null;
    return { start, end, next: end + 2 };
  }

  private value(buf: Buffer, p: number): { value: Reply; next: number } | null {
    if (p >= buf.length) return null;
    const t = buf[p];
    if (t === 36 /* $ */) {
      const b = this.bulkAt(buf, p);
      if (b === null) return null;
      return { value: b.end === b.start && buf[p + 1] === 45 ? null : buf.toString('utf8', b.start, b.end), next: b.next };
    }
    const lineEnd = crAt(buf, p);
    if (lineEnd < 0 || lineEnd + 1 >= buf.length) return null;
    const line = buf.toString('utf8', p + 1, lineEnd);
    const next = lineEnd + 2;
    switch (t) {
      case 43 /* + */:
        return { value: line, next };
      case 45 /* - */:
        return { value: new RespError(line), next };
      case 58 /* : */:
        return { value: Number(line), next };
      case 42 /* * */: {
        const n = Number(line);
        const items: Reply[] = [];
        let q = next;
        for (let i = 0; i < n; i++) {
          const r = this.value(buf, q);
          if (r === null) return null;
          items.push(r.value);
          q = r.next;
        }
        return { value: n < 0 ? null : items, next: q };
      }
      default:
        throw new RespError(`unexpected RESP type byte ${t}`);
    }
  }
}

/**
 * The index of the next CR at or after `p`, or -1. A loop in JavaScript: RESP header lines are a
 * few bytes, and Buffer#indexOf (like Buffer#compare) crosses into C++ on every call — five
 * calls per pub/sub message. 1.3 % of the Redis daemon's profile at 20k events/s was compare alone.
 */
function crAt(buf: Buffer, p: number): number {
  // Past 32 bytes (a simple string, or a line a hostile server never ends) indexOf's memchr wins.
  const n = Math.min(buf.length, p + 32);
  for (let i = p; i < n; i++) if (buf[i] === 13) return i;
  return n === buf.length ? -1 : buf.indexOf(13, n);
}

/** Parses a (possibly negative) decimal integer from buf[start, end). */
function readInt(buf: Buffer, start: number, end: number): number {
  let i = start;
  let neg = false;
  if (buf[i] === 45) {
    neg = true;
    i++;
  }
  let n = 0;
  for (; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) throw new RespError('malformed length in RESP frame');
    n = n * 10 + d;
  }
  return neg ? -n : n;
}
