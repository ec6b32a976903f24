import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { RedisOptions } from 'ioredis';
import type { BrokerConfig } from '../../config/config.js';

/** kombu's `global_keyprefix` transport option: prefixes keys *and* pub/sub channels (protocol.md §2.4). */
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
    const master = cfg.transportOptions['master_name'];
    opts.sentinels = u.sentinels;
    opts.name = typeof master === 'string' ? master : 'mymaster';
    const sk = cfg.transportOptions['sentinel_kwargs'];
    if (typeof sk === 'object' && sk !== null && typeof (sk as Record<string, unknown>)['password'] === 'string') {
      opts.sentinelPassword = (sk as Record<string, string>)['password'];
    }
  } else {
    opts.host = u.host;
    opts.port = u.port;
  }
  if (u.tls) opts.tls = tlsOptions(cfg);
  return opts;
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
