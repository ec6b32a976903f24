import type { Socket } from 'node:net';
import type { BrokerConfig } from '../../config/config.js';
import type { Logger } from '../../log.js';
import { backoffDelay } from '../../util/backoff.js';
import type { EventTransport, TransportHooks } from '../transport.js';
import { fanoutPrefix, keyPrefix } from './connect.js';
import { encodeCommand, RespError, RespReader, type Reply } from './resp.js';
import { openRedisSocket } from './socket.js';

/** A subscriber that has been silent this long (no message, no pong) is treated as dead. */
const HEALTH_INTERVAL_MS = 30_000;
/** Attempts reset after a connection stayed up this long. */
const STABLE_MS = 30_000;

/**
 * Celery events over Redis: kombu publishes each event with PUBLISH on
 * `{global_keyprefix}/{db}.celeryev/<routing key>` (protocol.md §2.2), so we PSUBSCRIBE to
 * that pattern — plus the bare channel kombu 3.x producers (fanout_patterns=False) use.
 *
 * This one connection speaks RESP on a raw socket instead of going through ioredis: every
 * message is handed to the decoder as a view of the socket buffer, which halves the cost of a
 * message (ioredis turns the pattern, channel and payload into strings and emits twice).
 * Everything else (pollers, remote control) uses ioredis.
 */
export class RedisEventSubscriber implements EventTransport {
  readonly kind = 'redis' as const;
  readonly patterns: string[];
  private sock: Socket | undefined;
  private isReady = false;
  private reported: boolean | undefined;
  private everReady = false;
  private stopping = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly cfg: BrokerConfig,
    private readonly hooks: TransportHooks,
    private readonly log: Logger,
  ) {
    const channel = `${keyPrefix(cfg)}${fanoutPrefix(cfg)}celeryev`;
    this.patterns = [`${escapeGlob(channel)}/*`, escapeGlob(channel)];
  }

  get ready(): boolean {
    return this.isReady;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.sock?.destroy();
    this.setReady(false, 'stopping');
    await this.loop;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopping) {
      const started = Date.now();
      try {
        await this.session();
      } catch (err) {
        this.setReady(false, (err as Error).message);
      }
      if (this.stopping) break;
      if (Date.now() - started > STABLE_MS) attempt = 0;
      const delay = backoffDelay(attempt++);
      this.log.debug({ attempt, delayMs: delay }, 'reconnecting the event subscriber');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** One connection: handshake, subscribe, consume until the socket closes. */
  private async session(): Promise<void> {
    const sock = await openRedisSocket(this.cfg);
    this.sock = sock;
    if (this.stopping) {
      sock.destroy();
      return;
    }
    const pipeline = this.hooks.pipeline;
    const expect: Array<(r: Reply) => void> = [];
    let lastData = Date.now();
    let failure: Error | undefined;
    const fail = (err: Error) => {
      failure ??= err;
      sock.destroy();
    };
    const reader = new RespReader({
      onMessage: (buf, start, end) => pipeline.onRedisMessageBuffer(buf, start, end),
      onReply: (r) => {
        const handler = expect.shift();
        if (handler !== undefined) handler(r);
        // A pong or a late subscribe confirmation needs no handling.
      },
    });
    sock.on('data', (chunk: Buffer) => {
      lastData = Date.now();
      try {
        reader.feed(chunk);
      } catch (err) {
        fail(err instanceof RespError ? err : new Error(`protocol error: ${(err as Error).message}`));
      }
    });
    const closed = new Promise<void>((resolve) => {
      sock.once('close', () => resolve());
      sock.on('error', (err) => fail(err));
    });

    const u = this.cfg.url;
    if (u.password !== undefined) {
      sock.write(encodeCommand(u.username !== undefined ? ['AUTH', u.username, u.password] : ['AUTH', u.password]));
      expect.push((r) => {
        // Redis without a password rejects AUTH; kombu/ioredis carry on, so do we.
        if (r instanceof Error && !/without any password configured|no password is set/i.test(r.message)) {
          fail(new Error(`authentication failed: ${r.message}`));
        }
      });
    }
    sock.write(encodeCommand(['CLIENT', 'SETNAME', 'celery-exporter:events']));
    expect.push(() => undefined);
    sock.write(encodeCommand(['PSUBSCRIBE', ...this.patterns]));
    let confirmed = 0;
    for (let i = 0; i < this.patterns.length; i++) {
      expect.push((r) => {
        if (r instanceof Error) return fail(new Error(`PSUBSCRIBE failed: ${r.message}`));
        if (++confirmed === this.patterns.length) {
          if (this.everReady) this.hooks.onReconnect?.('events');
          this.everReady = true;
          this.setReady(true, `subscribed to ${this.patterns.join(' and ')}`);
        }
      });
    }
    const health = setInterval(() => {
      if (Date.now() - lastData > 2 * HEALTH_INTERVAL_MS) return fail(new Error('no data or pong for 60 s; connection presumed dead'));
      sock.write(encodeCommand(['PING']));
    }, HEALTH_INTERVAL_MS);
    try {
      await closed;
    } finally {
      clearInterval(health);
      this.sock = undefined;
    }
    if (!this.stopping) throw failure ?? new Error('connection closed by the server');
  }

  /** Reports only changes (and the first failure), so a retry loop logs one line, not one per attempt. */
  private setReady(ready: boolean, reason: string): void {
    if (this.reported === ready) return;
    this.reported = ready;
    this.isReady = ready;
    this.hooks.onReadyChange(ready, reason);
  }
}

/** PSUBSCRIBE patterns are globs: a key prefix with *, ? or [ must not widen the subscription. */
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
