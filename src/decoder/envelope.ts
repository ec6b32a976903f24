import { Invalid } from './invalid.js';
import { parseJsonTolerant } from './json.js';

/**
 * Decodes the kombu Redis envelope (protocol.md §2.1) to the event body text.
 *
 * kombu writes the envelope with `body` first; for the common case (JSON content, base64 body,
 * no compression) the body is cut out of the raw text without parsing the envelope, which
 * halves the cost of a message. Anything unusual takes the full parse.
 */
export function decodeEnvelope(raw: string): string | Invalid {
  const fast = fastPath(raw);
  if (fast !== undefined) return fast;
  return slowPath(raw);
}

const BODY_PREFIX = '{"body": "';

function fastPath(raw: string): string | Invalid | undefined {
  if (!raw.startsWith(BODY_PREFIX)) return undefined;
  const end = raw.indexOf('"', BODY_PREFIX.length);
  if (end < 0) return undefined;
  // A base64 body never contains a backslash; a utf-8 body with escapes goes the slow way.
  if (raw.lastIndexOf('\\', end) >= BODY_PREFIX.length) return undefined;
  if (!raw.includes('"body_encoding": "base64"', end)) return undefined;
  if (!raw.includes('"content-type": "application/json"', end)) return undefined;
  if (raw.includes('"compression"', end)) return undefined;
  const b64 = raw.slice(BODY_PREFIX.length, end);
  const buf = Buffer.from(b64, 'base64');
  // Node skips characters that are not base64; a decoded length short of what the text
  // promises means the body was corrupt (the check is O(1), unlike a regex over the text).
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  if (b64.length % 4 !== 0 || buf.length !== (b64.length / 4) * 3 - pad) return Invalid.of.encoding;
  return buf.toString('utf8');
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
