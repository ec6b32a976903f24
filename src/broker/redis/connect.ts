import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { RedisOptions } from 'ioredis';
import type { BrokerConfig } from '../../config/config.js';
import { backoffDelay } from '../../util/backoff.js';

/** kombu's `global_keyprefix` transport option: prefixes keys *and* pub/sub channels (docs/protocol.md §2.4). */
export function keyPrefix(cfg: BrokerConfig): string {
  const p = cfg.transportOptions['global_keyprefix'];
  return typeof p === 'string' ? p : '';
}

/** kombu's fanout channel prefix `/{db}.` (or none with fanout_prefix=False, or a custom string). */
export function fanoutPrefix(cfg: BrokerConfig): string {
  const fp = cfg.transportOptions['fanout_prefix'];
  if (fp === false) return '';
  if (typeof fp === 'string' && fp !== '') return fp;
  return `/${cfg.url.db}.`;
}

/**
 * Every fanout prefix a kombu producer of this broker may use. Behind Sentinel, kombu up to 5.2
 * never formats its default prefix (SentinelChannel._get_pool skips the `.format(db=…)` the
 * plain channel does), so Celery 5.2 workers publish events on the literal `/{db}.celeryev/…`
 * and listen for remote control on `/{db}.celery.pidbox`; later kombu versions use `/0.`.
 * We subscribe to both and publish to both (a worker listens on one of them).
 */
export function fanoutPrefixes(cfg: BrokerConfig): string[] {
  const p = fanoutPrefix(cfg);
  const fp = cfg.transportOptions['fanout_prefix'];
  const isDefault = fp === undefined || fp === true;
  return cfg.url.sentinels.length > 0 && isDefault ? [p, '/{db}.'] : [p];
}

/** ioredis options for a broker URL; reconnection is driven by the caller. */
export function redisOptions(cfg: BrokerConfig, connectionName: string): RedisOptions {
  const u = cfg.url;
  const opts: RedisOptions = {
    username: u.username,
    password: u.password,
    db: u.db,
    connectionName,
    lazyConnect: true,
    enableReadyCheck: true,
    maxRetriesPerRequest: null,
    connectTimeout: 10_000,
    keepAlive: 30_000,
  };
  if (u.socketPath !== undefined) {
    opts.path = u.socketPath;
  } else if (u.sentinels.length > 0) {
    opts.sentinels = u.sentinels;
    opts.name = masterName(cfg);
    opts.sentinelPassword = sentinelPassword(cfg);
    // Failovers are followed with SentinelWatch (ioredis's failoverDetector leaves its sentinel
    // connections without an error listener: an unreachable sentinel prints to stderr).
    opts.sentinelRetryStrategy = (times: number) => backoffDelay(times - 1);
  } else {
    opts.host = u.host;
    opts.port = u.port;
  }
  if (u.tls) opts.tls = tlsOptions(cfg);
  return opts;
}

/** kombu's `master_name` transport option (Sentinel); kombu requires it, we default like redis-py examples. */
export function masterName(cfg: BrokerConfig): string {
  const master = cfg.transportOptions['master_name'];
  return typeof master === 'string' ? master : 'mymaster';
}

/** `sentinel_kwargs: {"password": …}`: the sentinels' own password, when they have one. */
export function sentinelPassword(cfg: BrokerConfig): string | undefined {
  const sk = cfg.transportOptions['sentinel_kwargs'];
  if (typeof sk === 'object' && sk !== null && typeof (sk as Record<string, unknown>)['password'] === 'string') {
    return (sk as Record<string, string>)['password'];
  }
  return undefined;
}

/** TLS settings from a rediss:// URL's kombu/redis-py query options. */
export function tlsOptions(cfg: BrokerConfig): ConnectionOptions {
  const u = cfg.url;
  const q = u.query;
  const reqs = q['ssl_cert_reqs'];
  return {
    rejectUnauthorized: reqs === undefined ? true : !/^(CERT_NONE|none)$/i.test(reqs),
    ca: q['ssl_ca_certs'] ? readFileSync(q['ssl_ca_certs']) : undefined,
    cert: q['ssl_certfile'] ? readFileSync(q['ssl_certfile']) : undefined,
    key: q['ssl_keyfile'] ? readFileSync(q['ssl_keyfile']) : undefined,
    servername: u.host,
  };
}
