import { Redis } from 'ioredis';
import type { BrokerConfig } from '../../config/config.js';
import type { Logger } from '../../log.js';
import { backoffDelay } from '../../util/backoff.js';
import type { EventTransport, TransportHooks } from '../transport.js';
import { fanoutPrefix, keyPrefix, redisOptions } from './connect.js';

/**
 * Celery events over Redis: kombu publishes each event with PUBLISH on
 * `{global_keyprefix}/{db}.celeryev/<routing key>` (protocol.md §2.2), so we PSUBSCRIBE to
 * that pattern — plus the bare channel that kombu 3.x producers (fanout_patterns=False) use.
 */
export class RedisEventSubscriber implements EventTransport {
  readonly kind = 'redis' as const;
  private client: Redis | undefined;
  private isReady = false;
  private everReady = false;
  private stopping = false;
  readonly patterns: string[];

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
    const client = new Redis({
      ...redisOptions(this.cfg, 'celery-exporter:events'),
      autoResubscribe: false,
      retryStrategy: (times: number) => {
        if (this.stopping) return null;
        const delay = backoffDelay(times - 1);
        this.log.debug({ attempt: times, delayMs: delay }, 'reconnecting to Redis');
        return delay;
      },
    });
    this.client = client;
    const pipeline = this.hooks.pipeline;
    client.on('pmessage', (_pattern: string, _channel: string, message: string) => pipeline.onRedisMessage(message));
    client.on('ready', () => void this.subscribe(client));
    client.on('error', (err: Error) => this.setReady(false, `redis error: ${err.message}`));
    client.on('close', () => this.setReady(false, 'connection closed'));
    client.connect().catch((err: Error) => this.setReady(false, `connect failed: ${err.message}`));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const c = this.client;
    this.client = undefined;
    this.setReady(false, 'stopping');
    if (c !== undefined) {
      try {
        await Promise.race([c.quit(), new Promise((r) => setTimeout(r, 1000))]);
      } catch {
        // already closed
      }
      c.disconnect();
    }
  }

  private async subscribe(client: Redis): Promise<void> {
    try {
      await client.psubscribe(...this.patterns);
      if (this.everReady) this.hooks.onReconnect?.('events');
      this.everReady = true;
      this.setReady(true, `subscribed to ${this.patterns.join(' and ')}`);
    } catch (err) {
      this.setReady(false, `PSUBSCRIBE failed: ${(err as Error).message}`);
      client.disconnect(true);
    }
  }

  /** Reports only changes (and the first failure), so a retry loop logs one line, not one per attempt. */
  private setReady(ready: boolean, reason: string): void {
    if (this.reported === ready) return;
    this.reported = ready;
    this.isReady = ready;
    this.hooks.onReadyChange(ready, reason);
  }
  private reported: boolean | undefined;
}

/** PSUBSCRIBE patterns are globs: a key prefix with *, ? or [ must not widen the subscription. */
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
