import type { ChannelModel } from 'amqplib';
import type { BrokerConfig } from '../../config/config.js';
import { describeConnectError } from '../connect-errors.js';
import { RetryGate } from '../retry-gate.js';
import { amqpConnectOptions, openConnection } from './connect.js';

/**
 * One lazily opened connection, reopened on the next use after it was lost (after a backoff
 * when opening failed). Callers open a channel per operation, so a channel error (404, 406)
 * never poisons the others.
 */
export class AmqpConnectionHolder {
  private conn: Promise<ChannelModel> | undefined;
  private closed = false;
  private everConnected = false;
  private readonly gate = new RetryGate();

  constructor(
    private readonly cfg: BrokerConfig,
    private readonly connectionName: string,
    private readonly onError?: (err: Error) => void,
    /** A connection opened after an earlier one was lost. */
    private readonly onReconnect?: () => void,
  ) {}

  get(): Promise<ChannelModel> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    if (this.conn === undefined) {
      try {
        this.gate.check();
      } catch (err) {
        return Promise.reject(err as Error);
      }
      // Remote-control connections are short-lived and busy only in bursts: a fixed heartbeat.
      // openConnection translates amqplib's raw handshake text (a refused vhost), as for the events.
      const p = openConnection(amqpConnectOptions(this.cfg.url, { heartbeat: 60 }, this.connectionName)).then((c) => {
        c.on('error', (err: Error) => this.onError?.(err));
        c.on('close', () => {
          if (this.conn === p) this.conn = undefined;
        });
        this.gate.succeeded();
        if (this.everConnected) this.onReconnect?.();
        this.everConnected = true;
        return c;
      });
      p.catch((err: unknown) => {
        this.gate.failed(new Error(describeConnectError(err)));
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
