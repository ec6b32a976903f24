import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { constants as zlibConstants, createGzip } from 'node:zlib';
import { scrub } from '../config/secrets.js';
import type { Logger } from '../log.js';
import { TEXT_CONTENT_TYPE } from '../metrics/registry.js';
import { BasicAuth } from './auth.js';
import { ConnectionGuard, DEFAULT_CONNECTION_LIMITS, serverTimeouts, type ConnectionLimits } from './connections.js';
import { RateLimiter } from './limits.js';
import { landingPage, type LandingInfo } from './landing.js';
import { RenderSlots } from './render-slots.js';
import { clientCertProblem, tlsServerOptions } from './tls.js';
import type { WebConfig, WebConfigFile } from './web-config.js';

export interface HttpOptions {
  host: string;
  port: number;
  metricsPath: string;
  /** Every route is served under this path ("" = at the root), for a reverse proxy. */
  urlPrefix?: string;
  webConfig?: WebConfigFile;
  /** Connection cap and timeouts (defaults: DEFAULT_CONNECTION_LIMITS). */
  limits?: ConnectionLimits;
}

export interface HttpHandlers {
  metrics: MetricsHandler;
  /** undefined when ready, else why not. */
  notReadyReason(): string | undefined;
  landing: Omit<LandingInfo, 'metricsPath' | 'prefix'>;
}

/**
 * A scrape in three steps. Only `render` holds one of the render slots (see render-slots.ts):
 * waiting for a broker or a disk in `before`/`after` must not keep other scrapes from rendering.
 */
export interface MetricsHandler {
  /** Before the render, outside the render slots (e.g. the on-demand queue refresh). */
  before?(): Promise<void>;
  /**
   * Writes the exposition in chunks (streamed: no Content-Length, chunked transfer), awaiting
   * what `write` returns before producing the next chunk.
   */
  render(write: (chunk: string) => Promise<void>): Promise<void>;
  /** After the render, with its slot released but before the response ends (e.g. the state-file save). */
  after?(): Promise<void>;
}

const TEXT = 'text/plain; charset=utf-8';
const NO_WEB_CONFIG: WebConfig = { tls: undefined, headers: {}, users: new Map(), rateLimit: undefined };

/**
 * The exporter's HTTP endpoints: /, the metrics path, /healthz and /readyz, optionally under a
 * URL prefix, with TLS, basic auth, headers and a rate limit from an exporter-toolkit web
 * config file. /healthz and /readyz stay open (Kubernetes probes send no credentials) and say
 * nothing beyond ok / ready / a masked reason.
 */
export class HttpServer {
  private readonly server: Server;
  private readonly auth = new BasicAuth();
  /** rate_limit buckets by authenticated user ("" without basic auth), for one web config version. */
  private limiters: { version: number; byUser: Map<string, RateLimiter> } | undefined;
  private readonly prefix: string;
  private tlsVersion = 0;
  private readonly tlsTimer: NodeJS.Timeout | undefined;
  private readonly renders = new RenderSlots();
  readonly connections: ConnectionGuard;

  constructor(
    private readonly opts: HttpOptions,
    private readonly handlers: HttpHandlers,
    private readonly log: Logger,
  ) {
    this.prefix = (opts.urlPrefix ?? '').replace(/\/+$/, '');
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.route(req, res).catch((err: unknown) => {
        if (res.destroyed) return; // the client left mid-scrape: nothing to answer, nothing wrong here
        this.log.error({ err: scrub(String(err)) }, 'HTTP handler failed');
        if (!res.headersSent) {
          res.removeHeader('Content-Encoding'); // a plain body, even if a gzip scrape failed
          send(res, 500, TEXT, 'internal error\n');
        }
        else res.destroy();
      });
    };
    const limits = opts.limits ?? DEFAULT_CONNECTION_LIMITS;
    const timeouts = serverTimeouts(limits);
    const tls = opts.webConfig?.get().tls;
    if (tls !== undefined) {
      const https = createHttpsServer({ ...tlsServerOptions(tls), ...timeouts }, handler);
      this.server = https;
      this.tlsVersion = opts.webConfig!.version;
      // Certificates rotate without a restart: new connections get the re-read files.
      this.tlsTimer = setInterval(() => {
        const wc = opts.webConfig!;
        const t = wc.get().tls;
        if (t !== undefined && wc.version !== this.tlsVersion) {
          this.tlsVersion = wc.version;
          https.setSecureContext(tlsServerOptions(t));
          this.log.info('TLS certificates reloaded from the web config');
        }
      }, 5000);
      this.tlsTimer.unref();
    } else {
      this.server = createHttpServer(timeouts, handler);
    }
    // A response that makes no progress for this long (a client that stopped reading) is cut.
    this.server.timeout = limits.idleTimeoutMs;
    this.connections = new ConnectionGuard(this.server, limits.maxConnections, limits.headersTimeoutMs);
  }

  get tlsEnabled(): boolean {
    return this.tlsTimer !== undefined;
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  async close(): Promise<void> {
    if (this.tlsTimer !== undefined) clearInterval(this.tlsTimer);
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      // Within the daemon's shutdown budget: a scrape still streaming is cut rather than waited for.
      setTimeout(() => {
        this.server.closeAllConnections();
        resolve();
      }, 500).unref();
    });
  }

  private rateLimiter(limit: NonNullable<WebConfig['rateLimit']>, user: string): RateLimiter {
    const version = this.opts.webConfig?.version ?? 0;
    if (this.limiters?.version !== version) this.limiters = { version, byUser: new Map() };
    let l = this.limiters.byUser.get(user);
    if (l === undefined) this.limiters.byUser.set(user, (l = new RateLimiter(limit.intervalMs, limit.burst)));
    return l;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const wc = this.opts.webConfig?.get() ?? NO_WEB_CONFIG;
    for (const [k, v] of Object.entries(wc.headers)) res.setHeader(k, v);
    const full = (req.url ?? '/').split('?')[0]!;
    if (this.prefix !== '' && full !== this.prefix && !full.startsWith(`${this.prefix}/`)) return send(res, 404, TEXT, 'not found\n');
    const path = full.slice(this.prefix.length) || '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, TEXT, 'method not allowed\n');
    }
    if (wc.tls !== undefined) {
      const problem = clientCertProblem(req.socket as TLSSocket, wc.tls);
      if (problem !== undefined) return send(res, 403, TEXT, `forbidden: ${problem}\n`);
    }
    if (path === '/healthz') return send(res, 200, TEXT, 'ok\n');
    if (path === '/readyz') {
      const reason = this.handlers.notReadyReason();
      return reason === undefined ? send(res, 200, TEXT, 'ready\n') : send(res, 503, TEXT, `not ready: ${scrub(reason)}\n`);
    }
    let user = '';
    if (wc.users.size > 0) {
      const auth = await this.auth.check(req.headers.authorization, wc.users, req.socket.remoteAddress ?? '');
      if (!auth.ok && auth.limited) return tooMany(res);
      if (!auth.ok) {
        res.setHeader('WWW-Authenticate', 'Basic realm="celery-prometheus-exporter", charset="UTF-8"');
        return send(res, 401, TEXT, 'unauthorized\n');
      }
      user = auth.user;
    }
    // After authentication: anonymous traffic never spends the scraper's budget (it did when the
    // limit was global and checked first: an anonymous 20 req/s got the scraper 429 on 11 of 20).
    if (wc.rateLimit !== undefined && !this.rateLimiter(wc.rateLimit, user).take()) return tooMany(res);
    if (path === this.opts.metricsPath) return this.serveMetrics(req, res);
    if (path === '/') {
      const page = landingPage({ ...this.handlers.landing, metricsPath: this.opts.metricsPath, prefix: this.prefix });
      return send(res, 200, 'text/html; charset=utf-8', scrub(page));
    }
    return send(res, 404, TEXT, 'not found\n');
  }

  /** GET/HEAD of the metrics path: the exposition streamed as it renders, gzipped when asked. */
  private async serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.statusCode = 200;
    res.setHeader('Content-Type', TEXT_CONTENT_TYPE);
    res.setHeader('Vary', 'Accept-Encoding');
    const gzip = acceptsGzip(req.headers['accept-encoding']);
    if (gzip) res.setHeader('Content-Encoding', 'gzip');
    if (req.method === 'HEAD') return void res.end();
    const metrics = this.handlers.metrics;
    const render = (write: (chunk: string) => Promise<void>) => metrics.render(write);
    await metrics.before?.();
    if (!gzip) {
      await this.renders.stream(res, render);
      await metrics.after?.();
      return void res.end();
    }
    // Compressed as it renders (zlib works off the main thread), never held whole; the render
    // waits for the gzip stream to drain, which waits for the client.
    const z = createGzip({ level: GZIP_LEVEL });
    z.on('error', () => res.destroy());
    z.pipe(res);
    try {
      await this.renders.stream(res, render, z);
      await metrics.after?.();
    } catch (err) {
      // Nothing more comes out of zlib (a client gone, or a failed render): route()'s caller
      // answers a plain 500 if no byte was sent yet, else cuts the connection.
      z.unpipe(res);
      z.destroy();
      throw err;
    }
    z.end();
  }
}

/**
 * Fastest zlib level: on a 20k-series exposition it gives most of the size reduction of the
 * default level for a fraction of its CPU (see the benchmark's gzip figures).
 */
const GZIP_LEVEL = zlibConstants.Z_BEST_SPEED;

/** Whether an Accept-Encoding header accepts gzip (gzip or *, with a q-value above 0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let star: boolean | undefined;
  for (const part of header.split(',')) {
    const [coding = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const ok = q === undefined || Number(q.slice(2)) > 0;
    if (coding.trim() === 'gzip' || coding.trim() === 'x-gzip') return ok;
    if (coding.trim() === '*') star = ok;
  }
  return star ?? false;
}

function tooMany(res: ServerResponse): void {
  res.setHeader('Retry-After', '1');
  send(res, 429, TEXT, 'too many requests\n');
}

function send(res: ServerResponse, status: number, type: string, body: string, headOnly = false): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(headOnly ? undefined : body);
}
