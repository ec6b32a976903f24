import { readFileSync } from 'node:fs';
import { connect, type ChannelModel, type Options, type SocketOptions } from 'amqplib';
import type { BrokerConfig } from '../../config/config.js';
import { VERSION } from '../../version.js';
import { describeConnectError } from '../connect-errors.js';
import { RetryGate } from '../retry-gate.js';

/**
 * amqplib connection options from the parsed broker URL (vhost, TLS, credentials). Kept apart
 * from the event transport's connection code so remote control does not depend on it.
 */
export function amqpConnectOptions(cfg: BrokerConfig, connectionName: string): { url: Options.Connect; socket: SocketOptions } {
  const u = cfg.url;
  const url: Options.Connect = {
    protocol: u.tls ? 'amqps' : 'amqp',
    hostname: u.host,
    port: u.port,
    username: u.username ?? 'guest',
    password: u.password ?? 'guest',
    vhost: u.vhost,
    heartbeat: 60,
    locale: 'en_US',
  };
  const socket: SocketOptions = {
    timeout: 10_000,
    keepAlive: true,
    clientProperties: { connection_name: connectionName, product: 'celery-prometheus-exporter', version: VERSION },
  };
  if (u.tls) {
    const q = u.query;
    const reqs = q['ssl_cert_reqs'];
    socket.rejectUnauthorized = reqs === undefined ? true : !/^(CERT_NONE|none)$/i.test(reqs);
    if (q['ssl_ca_certs']) socket.ca = readFileSync(q['ssl_ca_certs']);
    if (q['ssl_certfile']) socket.cert = readFileSync(q['ssl_certfile']);
    if (q['ssl_keyfile']) socket.key = readFileSync(q['ssl_keyfile']);
    socket.servername = u.host;
  }
  return { url, socket };
}

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
      const { url, socket } = amqpConnectOptions(this.cfg, this.connectionName);
      const p = connect(url, socket).then((c) => {
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
