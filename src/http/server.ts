import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { scrub } from '../config/secrets.js';
import type { Logger } from '../log.js';
import { TEXT_CONTENT_TYPE } from '../metrics/registry.js';
import { landingPage, type LandingInfo } from './landing.js';

export interface HttpOptions {
  host: string;
  port: number;
  metricsPath: string;
}

export interface HttpHandlers {
  metrics(): Promise<string>;
  /** undefined when ready, else why not. */
  notReadyReason(): string | undefined;
  landing: Omit<LandingInfo, 'metricsPath' | 'prefix'>;
}

/** The exporter's HTTP endpoints: /, the metrics path, /healthz and /readyz. */
export class HttpServer {
  private readonly server: Server;

  constructor(
    private readonly opts: HttpOptions,
    private readonly handlers: HttpHandlers,
    private readonly log: Logger,
  ) {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        this.log.error({ err: scrub(String(err)) }, 'HTTP handler failed');
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 65_000;
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
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      setTimeout(() => {
        this.server.closeAllConnections();
        resolve();
      }, 1000).unref();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    if (path === this.opts.metricsPath) {
      const body = await this.handlers.metrics();
      return send(res, 200, TEXT_CONTENT_TYPE, body, req.method === 'HEAD');
    }
    switch (path) {
      case '/':
        return send(
          res,
          200,
          'text/html; charset=utf-8',
          scrub(landingPage({ ...this.handlers.landing, metricsPath: this.opts.metricsPath, prefix: '' })),
        );
      case '/healthz':
        return send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
      case '/readyz': {
        const reason = this.handlers.notReadyReason();
        return reason === undefined
          ? send(res, 200, 'text/plain; charset=utf-8', 'ready\n')
          : send(res, 503, 'text/plain; charset=utf-8', `not ready: ${scrub(reason)}\n`);
      }
      default:
        return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, headOnly = false): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(headOnly ? undefined : body);
}
