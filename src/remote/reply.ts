import { parseJsonTolerant } from '../decoder/json.js';
import { REPLY_INVALID_REASONS, type ReplyInvalidReason } from '../metrics/inspect-metrics.js';
import { isUnreadable, type RawReply } from './mailbox.js';

export type ParsedReply =
  /** `{node: result}` pairs (one per reply in practice; Celery merges several the same way). */
  | { kind: 'reply'; nodes: Array<[string, unknown]> }
  | { kind: 'invalid'; reason: ReplyInvalidReason }
  /** A reply carrying another call's ticket (Celery parks these as "unclaimed"). */
  | { kind: 'foreign' }
  /** A reply whose `expires` header has passed (Celery drops these). */
  | { kind: 'expired' };

/**
 * One reply, judged as kombu's `Mailbox._collect` does: a missing ticket header counts as ours,
 * a past `expires` header drops it; the body must be a JSON object keyed by node name.
 */
export function parseReply(raw: RawReply, ticket: string, nowMs: number = Date.now()): ParsedReply {
  if (isUnreadable(raw)) return { kind: 'invalid', reason: asReason(raw.invalid) };
  const h = raw.headers;
  const expires = h['expires'];
  if (typeof expires === 'number' && expires > 0 && nowMs / 1000 > expires) return { kind: 'expired' };
  const t = h['ticket'];
  if (t !== undefined && t !== null && t !== ticket) return { kind: 'foreign' };
  let body: unknown;
  try {
    body = parseJsonTolerant(raw.text);
  } catch {
    return { kind: 'invalid', reason: 'json' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { kind: 'invalid', reason: 'shape' };
  const nodes = Object.entries(body as Record<string, unknown>);
  if (nodes.length === 0 || nodes.some(([k]) => k === '')) return { kind: 'invalid', reason: 'shape' };
  return { kind: 'reply', nodes };
}

function asReason(r: string): ReplyInvalidReason {
  return (REPLY_INVALID_REASONS as readonly string[]).includes(r) ? (r as ReplyInvalidReason) : 'envelope';
}
