import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { defaultsOf } from '../config/argv.js';
import { connectionLimits, httpOptions, type ConnectionLimits } from '../config/http-config.js';

export type { ConnectionLimits } from '../config/http-config.js';

/** The limits of --http-max-connections, --http-headers-timeout and --http-idle-timeout left at their defaults. */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = connectionLimits(defaultsOf(httpOptions));

/**
 * Node options for these limits (slow request headers, keep-alive, TLS handshake). A connection
 * that sends nothing at all is ended by ConnectionGuard: without it, plain sockets that sent
 * nothing and TLS sockets idle after their handshake stayed open for good, and 19,980 of them
 * took every file descriptor (/healthz refused).
 */
export function serverTimeouts(l: ConnectionLimits): { headersTimeout: number; requestTimeout: number; keepAliveTimeout: number; connectionsCheckingInterval: number; handshakeTimeout: number } {
  return {
    headersTimeout: l.headersTimeoutMs,
    requestTimeout: Math.max(l.headersTimeoutMs, l.idleTimeoutMs),
    keepAliveTimeout: l.idleTimeoutMs,
    // How often Node looks for expired connections (default 30 s, which would triple a 10 s limit).
    connectionsCheckingInterval: Math.min(1000, l.headersTimeoutMs),
    handshakeTimeout: l.headersTimeoutMs,
  };
}

/**
 * Keeps at most `maxConnections` open. Past the cap the oldest connection with no request in
 * progress is closed to make room, so a flood of idle connections cannot lock out /healthz or
 * the scraper (a plain cap would refuse them); only when every connection is busy is the new
 * one refused.
 */
export class ConnectionGuard {
  /** Insertion order = oldest first; busy counts requests in progress. */
  private readonly open = new Map<Socket, { busy: number; firstRequest: NodeJS.Timeout | undefined }>();
  evicted = 0;
  refused = 0;

  constructor(
    server: Server,
    private readonly max: number,
    private readonly headersTimeoutMs: number,
  ) {
    server.on('connection', (s: Socket) => this.add(s));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      // Behind TLS the request arrives on the TLS socket, whose transport is the counted one.
      const tls = req.socket as Socket & { _parent?: Socket };
      const entry = this.open.get(tls) ?? (tls._parent !== undefined ? this.open.get(tls._parent) : undefined);
      if (entry === undefined) return;
      clearTimeout(entry.firstRequest);
      entry.firstRequest = undefined;
      entry.busy++;
      res.once('close', () => entry.busy--);
    });
  }

  get size(): number {
    return this.open.size;
  }

  private add(s: Socket): void {
    // Node's headersTimeout does not end a connection that never sends a byte (measured: still
    // open after 6 s with a 2 s headersTimeout); this timer does, and covers the TLS handshake.
    const firstRequest = setTimeout(() => s.destroy(), this.headersTimeoutMs);
    firstRequest.unref();
    this.open.set(s, { busy: 0, firstRequest });
    s.once('close', () => {
      clearTimeout(firstRequest);
      this.open.delete(s);
    });
    if (this.open.size <= this.max) return;
    for (const [old, e] of this.open) {
      if (old !== s && e.busy === 0) {
        this.open.delete(old);
        clearTimeout(e.firstRequest);
        old.destroy();
        this.evicted++;
        return;
      }
    }
    this.open.delete(s);
    s.destroy();
    this.refused++;
  }
}
