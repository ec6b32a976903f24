import { Redis } from 'ioredis';
import type { BrokerConfig } from '../../config/config.js';
import type { Logger } from '../../log.js';
import { backoffDelay } from '../../util/backoff.js';
import { masterName, sentinelPassword } from './connect.js';

/**
 * Listens on every sentinel for `+switch-master` of our master, so the event subscription
 * follows a failover when it happens instead of when the old master goes away: after a forced
 * failover (`SENTINEL FAILOVER`) the old master stays up and keeps answering as a master for a
 * few more seconds, and a dead master host may not close our socket for a long time. ioredis
 * connections get the same from its `failoverDetector` option.
 */
export class SentinelWatch {
  private readonly clients: Redis[] = [];

  constructor(
    private readonly cfg: BrokerConfig,
    private readonly onSwitch: (to: string) => void,
    private readonly log?: Logger,
  ) {}

  start(): void {
    const name = masterName(this.cfg);
    for (const s of this.cfg.url.sentinels) {
      const c = new Redis({
        host: s.host,
        port: s.port,
        password: sentinelPassword(this.cfg),
        connectionName: 'celery-exporter:sentinel-watch',
        maxRetriesPerRequest: null,
        retryStrategy: (times: number) => backoffDelay(times - 1),
      });
      c.on('error', (err: Error) => this.log?.debug({ sentinel: `${s.host}:${s.port}`, err: err.message }, 'sentinel watch connection error'));
      c.on('message', (channel: string, message: string) => {
        // "<master name> <old ip> <old port> <new ip> <new port>"
        const parts = message.split(' ');
        if (channel === '+switch-master' && parts[0] === name && parts.length >= 5) this.onSwitch(`${parts[3]}:${parts[4]}`);
      });
      // Queued until the sentinel answers; ioredis subscribes again after each reconnect.
      c.subscribe('+switch-master').catch((err: unknown) =>
        this.log?.debug({ sentinel: `${s.host}:${s.port}`, err: String(err) }, 'sentinel watch could not subscribe'),
      );
      this.clients.push(c);
    }
  }

  stop(): void {
    for (const c of this.clients.splice(0)) c.disconnect();
  }
}
