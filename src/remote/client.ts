import { randomUUID } from 'node:crypto';
import { raceAbort, type Mailbox } from './mailbox.js';
import { buildRequest, pidboxNames, requestHeaders, type PidboxNames } from './protocol.js';
import type { ReplyInvalidReason } from '../metrics/inspect-metrics.js';
import { parseReply } from './reply.js';

export interface CallOptions {
  /** Keyword arguments of the worker's handler (`handlers[method](state, **arguments)`). */
  arguments?: Record<string, unknown>;
  /** Node names (`celery@host`); only they run the command. */
  destination?: readonly string[];
  /**
   * Celery's `timeout`: collection ends when no reply arrived for this long. It is an
   * inactivity gap, not a deadline — every reply restarts it.
   */
  timeoutMs: number;
  /**
   * Stop after this many replies. Default: the destination's length, else how many mailboxes
   * the broker says received the request (Redis), else wait for the gap.
   */
  limit?: number;
  /** false publishes without collecting (Celery's `reply=False`). */
  reply?: boolean;
  signal?: AbortSignal;
}

export interface NodeReply {
  hostname: string;
  value: unknown;
  /** Milliseconds from publishing the request to this reply's arrival. */
  elapsedMs: number;
}

export interface CallResult {
  method: string;
  replies: NodeReply[];
  /** Mailboxes that received the request, when the broker reports it. */
  receivers: number | undefined;
  /** Replies skipped because they could not be read. */
  invalid: number;
  /** Replies of other calls (foreign ticket) or past their `expires`. */
  skipped: number;
}

export interface RemoteControlHooks {
  /** A worker's reply that could not be used (counted by the caller's metrics). */
  onInvalidReply?(reason: ReplyInvalidReason): void;
}

/**
 * The client side of Celery's remote control, broker-neutral: one call = a fresh oid and
 * ticket, a reply inbox opened *before* the request is published, replies collected with
 * Celery's semantics, and the inbox removed afterwards whatever happened.
 */
export class RemoteControl {
  constructor(
    readonly mailbox: Mailbox,
    private readonly hooks: RemoteControlHooks = {},
    private readonly names: PidboxNames = pidboxNames(),
    private readonly newId: () => string = randomUUID,
  ) {}

  async call(method: string, opts: CallOptions): Promise<CallResult> {
    const args = opts.arguments ?? {};
    const result: CallResult = { method, replies: [], receivers: undefined, invalid: 0, skipped: 0 };
    if (opts.reply === false) {
      const req = buildRequest(method, args, { destination: opts.destination, names: this.names });
      result.receivers = await this.mailbox.publish(req, requestHeaders(undefined), opts.signal);
      return result;
    }
    const oid = this.newId();
    const ticket = this.newId();
    const req = buildRequest(method, args, { destination: opts.destination, reply: { ticket, oid }, names: this.names });
    const inbox = await this.mailbox.openInbox(oid, opts.signal);
    try {
      const started = performance.now();
      const receivers = await raceAbort(this.mailbox.publish(req, requestHeaders(opts.timeoutMs), opts.signal), opts.signal);
      result.receivers = receivers;
      const limit = replyLimit(opts, receivers);
      let counted = 0;
      while (limit === undefined || counted < limit) {
        const raw = await inbox.next(opts.timeoutMs, opts.signal);
        if (raw === undefined) break;
        const elapsedMs = performance.now() - started;
        const parsed = parseReply(raw, ticket);
        switch (parsed.kind) {
          case 'reply':
            for (const [hostname, value] of parsed.nodes) result.replies.push({ hostname, value, elapsedMs });
            counted++;
            break;
          case 'invalid':
            result.invalid++;
            this.hooks.onInvalidReply?.(parsed.reason);
            break;
          case 'foreign':
          case 'expired':
            result.skipped++;
            break;
        }
      }
      return result;
    } finally {
      await inbox.close();
    }
  }

  close(): Promise<void> {
    return this.mailbox.close();
  }
}

function replyLimit(opts: CallOptions, receivers: number | undefined): number | undefined {
  if (opts.limit !== undefined) return opts.limit;
  const dest = opts.destination !== undefined && opts.destination.length > 0 ? opts.destination.length : undefined;
  if (dest !== undefined && receivers !== undefined) return Math.min(dest, receivers);
  return dest ?? receivers;
}

/**
 * Merges replies into `{node: result}` as Celery's `flatten_reply` does: a later reply of the
 * same node wins, and the duplicated names are reported (two workers share a node name).
 */
export function byNode(replies: readonly NodeReply[]): { nodes: Record<string, unknown>; duplicates: string[] } {
  const nodes: Record<string, unknown> = {};
  const duplicates = new Set<string>();
  for (const r of replies) {
    if (Object.prototype.hasOwnProperty.call(nodes, r.hostname)) duplicates.add(r.hostname);
    // defineProperty: a node named "__proto__" must stay a plain key.
    Object.defineProperty(nodes, r.hostname, { value: r.value, enumerable: true, writable: true, configurable: true });
  }
  return { nodes, duplicates: [...duplicates] };
}
