import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Redis } from 'ioredis';
import type { BrokerConfig } from '../../config/config.js';
import { masterName, sentinelPassword, tlsOptions } from './connect.js';

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Opens a plain/TLS/unix socket to the Redis server the broker URL names. For sentinel://
 * URLs it first asks the sentinels (in order) for the current master, so a reconnect after a
 * failover reaches the new master.
 */
export async function openRedisSocket(cfg: BrokerConfig): Promise<Socket> {
  const u = cfg.url;
  let host = u.host;
  let port = u.port;
  if (u.sentinels.length > 0) [host, port] = await resolveMaster(cfg);
  return new Promise((resolve, reject) => {
    const sock: Socket =
      u.socketPath !== undefined
        ? netConnect({ path: u.socketPath })
        : u.tls
          ? tlsConnect({ ...tlsOptions(cfg), host, port, servername: host })
          : netConnect({ host, port });
    const timer = setTimeout(() => sock.destroy(new Error(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    const ok = () => {
      clearTimeout(timer);
      sock.off('error', fail);
      sock.setNoDelay(true);
      sock.setKeepAlive(true, 30_000);
      resolve(sock);
    };
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    sock.once(u.tls ? 'secureConnect' : 'connect', ok);
    sock.once('error', fail);
  });
}

async function resolveMaster(cfg: BrokerConfig): Promise<[string, number]> {
  const name = masterName(cfg);
  const password = sentinelPassword(cfg);
  const errors: string[] = [];
  for (const s of cfg.url.sentinels) {
    const client = new Redis({ host: s.host, port: s.port, password, lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined); // reported through the rejected connect()
    try {
      await client.connect();
      const addr = (await client.call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string] | null;
      if (addr) return [addr[0], Number(addr[1])];
      errors.push(`${s.host}:${s.port} does not know master "${name}"`);
    } catch (err) {
      errors.push(`${s.host}:${s.port}: ${(err as Error).message}`);
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`no sentinel could name the master: ${errors.join('; ')}`);
}
