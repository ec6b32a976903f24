import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ManagementConfig } from '../../config/amqp-config.js';

/** Largest answer read; a queue listing with a few columns stays far below it. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

/**
 * GET on the RabbitMQ management HTTP API with basic auth, bounded by `signal`. Failures become
 * one clear sentence naming the API (password masked), because that is what the poll log shows.
 */
export class ManagementClient {
  constructor(
    private readonly cfg: ManagementConfig,
    /** CA for an https:// API signed by a private CA (the broker's --broker-ssl-ca-certs). */
    private readonly ca?: Buffer,
  ) {}

  get masked(): string {
    return this.cfg.masked;
  }

  async get(path: string, signal: AbortSignal): Promise<unknown> {
    const url = new URL(path, this.cfg.baseUrl);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let res: IncomingMessage;
    try {
      res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = request(url, {
          method: 'GET',
          auth: `${this.cfg.username}:${this.cfg.password}`,
          headers: { accept: 'application/json' },
          signal,
          ca: this.ca,
        });
        req.once('response', resolve);
        req.once('error', reject);
        req.end();
      });
    } catch (err) {
      if (signal.aborted) throw signal.reason as Error;
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new Error(`RabbitMQ management API at ${this.cfg.masked} is unreachable (${code}); is the rabbitmq_management plugin enabled and the URL right?`);
    }
    const body = await readBody(res, signal);
    const status = res.statusCode ?? 0;
    // RabbitMQ answers 401 both for bad credentials and for a user whose tags do not allow the path.
    if (status === 401 || status === 403) {
      throw new Error(
        `RabbitMQ management API at ${this.cfg.masked} refused ${url.pathname} (${status}): wrong credentials, or the user lacks the tag it needs ("management" for queues, "monitoring" for broker health)`,
      );
    }
    if (status !== 200) throw new Error(`RabbitMQ management API at ${this.cfg.masked} answered ${status} for ${url.pathname}`);
    try {
      return JSON.parse(body) as unknown;
    } catch {
      throw new Error(`RabbitMQ management API at ${this.cfg.masked} sent invalid JSON for ${url.pathname}; is this the management port?`);
    }
  }
}

function readBody(res: IncomingMessage, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        res.destroy();
        reject(new Error(`management API answer larger than ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(c);
    });
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', (err) => reject(signal.aborted ? (signal.reason as Error) : err));
    res.once('aborted', () => reject(signal.aborted ? (signal.reason as Error) : new Error('management API answer cut short')));
  });
}

/** A vhost as a path segment of the API ("/" → %2F). */
export function vhostPath(vhost: string): string {
  return encodeURIComponent(vhost);
}
