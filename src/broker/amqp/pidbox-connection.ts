import type { ChannelModel } from 'amqplib';
import type { BrokerConfig } from '../../config/config.js';
import { amqpConnectOptions, openConnection } from './connect.js';

/**
 * One lazily opened connection, reopened on the next use after it was lost. Callers open a
 * channel per operation, so a channel error (404, 406) never poisons the others.
 */
export class AmqpConnectionHolder {
  private conn: Promise<ChannelModel> | undefined;
  private closed = false;

  constructor(
    private readonly cfg: BrokerConfig,
    private readonly connectionName: string,
    private readonly onError?: (err: Error) => void,
  ) {}

  get(): Promise<ChannelModel> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    if (this.conn === undefined) {
      // Remote-control connections are short-lived and busy only in bursts: a fixed heartbeat.
      const p = openConnection(amqpConnectOptions(this.cfg.url, { heartbeat: 60 }, this.connectionName)).then((c) => {
        c.on('error', (err: Error) => this.onError?.(err));
        c.on('close', () => {
          if (this.conn === p) this.conn = undefined;
        });
        return c;
      });
      p.catch(() => {
        if (this.conn === p) this.conn = undefined;
      });
      this.conn = p;
    }
    return this.conn;
  }

  async close(): Promise<void> {
    this.closed = true;
    const p = this.conn;
    this.conn = undefined;
    if (p === undefined) return;
    try {
      const c = await p;
      await Promise.race([c.close(), new Promise((r) => setTimeout(r, 2000))]);
    } catch {
      // never connected, or already gone
    }
  }
}
