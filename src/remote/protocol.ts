/**
 * Celery's remote-control ("pidbox") wire format, broker-neutral (docs/protocol.md §5): the request
 * body every worker's mailbox reads and the names of the exchanges and reply queues. Brokers
 * frame it (Redis envelope, AMQP properties) in src/broker/<kind>/pidbox.ts.
 */

/** Celery's `control_exchange` setting; every name below derives from it. */
export const DEFAULT_NAMESPACE = 'celery';

export interface PidboxNames {
  /** Fanout exchange the workers' mailboxes are bound to: `celery.pidbox`. */
  requestExchange: string;
  /** Direct exchange replies are published to, routed by the caller's oid: `reply.celery.pidbox`. */
  replyExchange: string;
}

export function pidboxNames(namespace = DEFAULT_NAMESPACE): PidboxNames {
  return { requestExchange: `${namespace}.pidbox`, replyExchange: `reply.${namespace}.pidbox` };
}

/** The reply queue (AMQP) or list key (Redis) of one call: `<oid>.reply.celery.pidbox`. */
export function replyQueueName(oid: string, names: PidboxNames): string {
  return `${oid}.${names.replyExchange}`;
}

/** The body kombu's `Mailbox._publish` sends; the key order is kombu's. */
export interface PidboxRequest {
  method: string;
  arguments: Record<string, unknown>;
  /** A list (a string would be substring-matched by the worker), or null for every worker. */
  destination: string[] | null;
  pattern: null;
  matcher: null;
  /** Only when a reply is wanted. */
  ticket?: string;
  reply_to?: { exchange: string; routing_key: string };
}

export interface RequestHeaders {
  clock: number;
  /** Unix seconds after which the caller stops listening; 0 when it does not wait. */
  expires: number;
}

export function buildRequest(
  method: string,
  args: Record<string, unknown>,
  opts: { destination?: readonly string[] | undefined; reply?: { ticket: string; oid: string }; names: PidboxNames },
): PidboxRequest {
  const req: PidboxRequest = {
    method,
    arguments: args,
    destination: opts.destination !== undefined && opts.destination.length > 0 ? [...opts.destination] : null,
    pattern: null,
    matcher: null,
  };
  if (opts.reply !== undefined) {
    req.ticket = opts.reply.ticket;
    req.reply_to = { exchange: opts.names.replyExchange, routing_key: opts.reply.oid };
  }
  return req;
}

/**
 * Lamport clock of this process, as kombu's producer forwards it. Workers only adjust their own
 * clock with it, so a process-local counter is enough.
 */
let clock = 0;

export function requestHeaders(timeoutMs: number | undefined, nowMs: number = Date.now()): RequestHeaders {
  clock += 1;
  return { clock, expires: timeoutMs !== undefined && timeoutMs > 0 ? (nowMs + timeoutMs) / 1000 : 0 };
}
