import { bytesAt } from '../util/bytes.js';
import { Invalid } from './invalid.js';
import { parseJsonTolerant } from './json.js';

/**
 * Decodes the kombu Redis envelope (docs/protocol.md §2.1) to the event body text.
 *
 * kombu writes event envelopes in one fixed layout (body first, then content-encoding,
 * content-type, a headers object holding only the hostname, properties ending with body_encoding
 * and a uuid delivery_tag). The fast path checks that layout at fixed offsets — no searching,
 * which costs more than the base64 decode — and cuts the body out without parsing the envelope.
 * Anything else (other header sets, compression, utf-8 bodies, reordered keys) takes the full
 * parse, so the fast path can only be faster, never different.
 */
export function decodeEnvelope(raw: string): string | Invalid {
  const fast = fastPath(raw);
  if (fast !== undefined) return fast;
  return slowPath(raw);
}

const BODY_PREFIX = '{"body": "';
const AFTER_BODY = '", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"hostname": "';
const AFTER_HOSTNAME = '"}, "properties": {"delivery_mode": ';
const TAIL = '"body_encoding": "base64", "delivery_tag": "';
/** TAIL + a uuid4 + `"}}`. */
const TAIL_LENGTH = TAIL.length + 36 + 3;

function fastPath(raw: string): string | undefined {
  if (!raw.startsWith(BODY_PREFIX)) return undefined;
  const end = raw.indexOf('"', BODY_PREFIX.length);
  if (end < 0 || !raw.startsWith(AFTER_BODY, end)) return undefined;
  const hostEnd = raw.indexOf('"', end + AFTER_BODY.length);
  if (hostEnd < 0 || !raw.startsWith(AFTER_HOSTNAME, hostEnd)) return undefined;
  if (!raw.startsWith(TAIL, raw.length - TAIL_LENGTH) || !raw.endsWith('"}}')) return undefined;
  return decodeBase64Body(raw.slice(BODY_PREFIX.length, end));
}

const B_PREFIX = Buffer.from(BODY_PREFIX);
const B_AFTER_BODY = Buffer.from(AFTER_BODY);
const B_AFTER_HOSTNAME = Buffer.from(AFTER_HOSTNAME);
const B_TAIL = Buffer.from(TAIL);

/**
 * The same decoding straight from the socket buffer (the Redis subscriber's view of one
 * message), so the envelope never becomes a JS string on the fast path.
 */
export function decodeEnvelopeBuffer(buf: Buffer, start: number, end: number): string | Invalid {
  const fast = fastPathBuffer(buf, start, end);
  if (fast !== undefined) return fast;
  return slowPath(buf.toString('utf8', start, end));
}

function fastPathBuffer(buf: Buffer, start: number, end: number): string | undefined {
  if (end - start < B_PREFIX.length + B_AFTER_BODY.length + B_AFTER_HOSTNAME.length + TAIL_LENGTH) return undefined;
  if (!bytesAt(buf, start, B_PREFIX)) return undefined;
  const bodyStart = start + B_PREFIX.length;
  const bodyEnd = buf.indexOf(34, bodyStart);
  if (bodyEnd < 0 || bodyEnd + B_AFTER_BODY.length >= end) return undefined;
  if (!bytesAt(buf, bodyEnd, B_AFTER_BODY)) return undefined;
  const hostEnd = buf.indexOf(34, bodyEnd + B_AFTER_BODY.length);
  if (hostEnd < 0 || hostEnd + B_AFTER_HOSTNAME.length > end) return undefined;
  if (!bytesAt(buf, hostEnd, B_AFTER_HOSTNAME)) return undefined;
  const tail = end - TAIL_LENGTH;
  if (tail < hostEnd || !bytesAt(buf, tail, B_TAIL)) return undefined;
  if (buf[end - 3] !== 34 || buf[end - 2] !== 125 || buf[end - 1] !== 125) return undefined;
  return decodeBase64Body(buf.toString('latin1', bodyStart, bodyEnd));
}

/** Decoded bodies are written here and read back as a string: no Buffer allocated per message. */
const scratch = Buffer.allocUnsafe(256 * 1024);

/** base64 text → UTF-8 string, or undefined when the text is not clean base64 (the full parse then names it). */
function decodeBase64Body(b64: string): string | undefined {
  const n = b64.length;
  if (n % 4 !== 0) return undefined;
  const pad = n > 0 && b64.charCodeAt(n - 1) === 61 ? (b64.charCodeAt(n - 2) === 61 ? 2 : 1) : 0;
  const expected = (n / 4) * 3 - pad;
  // Node skips characters that are not base64, so a short decode means a corrupt body.
  if (expected > scratch.length) {
    const big = Buffer.from(b64, 'base64');
    return big.length === expected ? big.toString('utf8') : undefined;
  }
  const written = scratch.write(b64, 0, 'base64');
  return written === expected ? scratch.toString('utf8', 0, written) : undefined;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const JSON_TYPES = new Set(['application/json', 'application/x-json', 'text/json']);

function slowPath(raw: string): string | Invalid {
  let env: unknown;
  try {
    env = parseJsonTolerant(raw);
  } catch {
    return Invalid.of.envelope;
  }
  if (typeof env !== 'object' || env === null || Array.isArray(env)) return Invalid.of.envelope;
  const e = env as Record<string, unknown>;
  const body = e['body'];
  if (typeof body !== 'string') return Invalid.of.envelope;
  const headers = e['headers'];
  if (typeof headers === 'object' && headers !== null && (headers as Record<string, unknown>)['compression']) {
    return Invalid.of.compression;
  }
  const ct = e['content-type'];
  if (ct !== undefined && ct !== null && (typeof ct !== 'string' || !JSON_TYPES.has(ct.toLowerCase()))) {
    return Invalid.of.content_type;
  }
  const props = e['properties'];
  const enc =
    typeof props === 'object' && props !== null ? (props as Record<string, unknown>)['body_encoding'] : undefined;
  if (enc === 'base64') {
    const compact = body.replace(/\s+/g, '');
    if (compact.length % 4 !== 0 || !BASE64.test(compact)) return Invalid.of.encoding;
    return Buffer.from(compact, 'base64').toString('utf8');
  }
  if (enc === undefined || enc === null || enc === 'utf-8' || enc === 'utf8') return body;
  return Invalid.of.encoding;
}
