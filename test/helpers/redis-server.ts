import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { spawnTracked, type Spawned } from './processes.js';
import { freePort } from './ports.js';

export interface OwnRedisOptions {
  port?: number;
  password?: string;
  /** Extra redis-server arguments, e.g. ['--replicaof', '127.0.0.1', '6400']. */
  args?: string[];
}

/**
 * A redis-server of the test's own, on a free port, never the shared one: fault tests kill it,
 * restart it and change its configuration. No persistence; killed when the test process exits.
 */
export class OwnRedis {
  readonly port: number;
  readonly password: string | undefined;
  private proc: Spawned | undefined;
  private dir: string | undefined;
  private readonly clients: Redis[] = [];

  private constructor(
    port: number,
    private readonly opts: OwnRedisOptions,
  ) {
    this.port = port;
    this.password = opts.password;
  }

  static async start(opts: OwnRedisOptions = {}): Promise<OwnRedis> {
    const r = new OwnRedis(opts.port ?? (await freePort()), opts);
    await r.spawn();
    return r;
  }

  /** redis://[:password@]127.0.0.1:port/db */
  url(db = 0, password = this.password): string {
    return `redis://${password !== undefined ? `:${encodeURIComponent(password)}@` : ''}127.0.0.1:${this.port}/${db}`;
  }

  get pid(): number | undefined {
    return this.proc?.proc.pid;
  }

  /** A client of the test's (closed in stop()). */
  client(): Redis {
    const c = new Redis({ host: '127.0.0.1', port: this.port, password: this.password, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    c.on('error', () => undefined);
    this.clients.push(c);
    return c;
  }

  async spawn(): Promise<void> {
    // Its own directory: a replica writes the RDB it receives from its master there.
    this.dir ??= mkdtempSync(join(tmpdir(), 'cpe-redis-'));
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', this.dir];
    if (this.password !== undefined) args.push('--requirepass', this.password, '--masterauth', this.password);
    args.push(...(this.opts.args ?? []));
    this.proc = spawnTracked('redis-server', args);
    await this.proc.waitForOutput(/Ready to accept connections/, 15_000);
  }

  /** SIGTERM: Redis closes every client and exits (nothing saved). */
  async shutdown(): Promise<void> {
    await this.proc?.stop(5000);
    this.proc = undefined;
  }

  async restart(downMs = 0): Promise<void> {
    await this.shutdown();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.spawn();
  }

  output(): string {
    return this.proc?.output() ?? '';
  }

  async stop(): Promise<void> {
    for (const c of this.clients.splice(0)) c.disconnect();
    await this.shutdown();
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `CLIENT LIST` rows as objects (id, name, flags, omem, …). */
export async function clientList(c: Redis, type?: 'normal' | 'pubsub'): Promise<Array<Record<string, string>>> {
  const text = (await (type ? c.call('CLIENT', 'LIST', 'TYPE', type) : c.call('CLIENT', 'LIST'))) as string;
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => Object.fromEntries(l.trim().split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
}

export interface OwnSentinel {
  port: number;
  client(): Redis;
  output(): string;
  stop(): Promise<void>;
}

/**
 * A redis-sentinel of the test's own watching `master` as "mymaster" (quorum 1, so a single
 * sentinel decides; `SENTINEL FAILOVER` needs no quorum anyway). Its config file lives in a
 * temporary directory (Sentinel rewrites it).
 */
export async function startSentinel(master: OwnRedis, name = 'mymaster'): Promise<OwnSentinel> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cpe-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  const lines = [
    `port ${port}`,
    'bind 127.0.0.1',
    'daemonize no',
    `dir ${dir}`,
    `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
    `sentinel down-after-milliseconds ${name} 2000`,
    `sentinel failover-timeout ${name} 10000`,
    `sentinel parallel-syncs ${name} 1`,
  ];
  if (master.password !== undefined) lines.push(`sentinel auth-pass ${name} ${master.password}`);
  writeFileSync(conf, lines.join('\n') + '\n');
  const proc = spawnTracked('redis-sentinel', [conf]);
  await proc.waitForOutput(/\+monitor master/, 15_000);
  const clients: Redis[] = [];
  return {
    port,
    output: () => proc.output(),
    client() {
      const c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients.splice(0)) c.disconnect();
      await proc.stop(5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
