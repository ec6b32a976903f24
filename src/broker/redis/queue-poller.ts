import { Redis } from 'ioredis';
import type { BrokerConfig } from '../../config/config.js';
import type { Logger } from '../../log.js';
import type { BrokerMetrics } from '../../metrics/broker-metrics.js';
import type { QueueMetrics } from '../../metrics/queue-metrics.js';
import type { Collector } from '../../pollers/collector.js';
import type { QueueRegistry } from '../../state/queue-registry.js';
import { backoffDelay } from '../../util/backoff.js';
import { redisOptions } from './connect.js';
import { describeConnectError } from '../connect-errors.js';
import { MonotonicMirrors } from '../../metrics/monotonic-mirror.js';
import { parseRedisInfo } from './info.js';
import { SentinelWatch } from './sentinel-watch.js';
import { RedisQueueLayout, isInternalExchange, isInternalQueue, queueDepth, type PriorityKey } from './queue-keys.js';
import { aggregateUnacked, unackedQueue, type UnackedStats } from './unacked.js';

export interface RedisQueuePollerDeps {
  queues: QueueRegistry;
  queueMetrics: QueueMetrics;
  brokerMetrics: BrokerMetrics;
  /** The poller's connection came back after a loss (celery_exporter_reconnects_total{component="queues"}). */
  onReconnect?(): void;
}

export interface RedisQueuePollerOptions {
  /** Milliseconds between binding scans; 0 = no discovery. */
  discoveryIntervalMs: number;
  /** Milliseconds a vanished, empty queue is kept before it is forgotten; 0 = never. */
  forgetAfterMs: number;
}

const SCAN_COUNT = 1000;
/** How long a round waits for a reconnect under way before it fails (see ready()). */
const RECONNECT_GRACE_MS = 1000;
const HSCAN_COUNT = 1000;

/**
 * Queue depths, reserved messages and broker health from Redis, on its own connection.
 *
 * A round: discovery when due (SCAN for kombu binding sets, then one pipeline of SMEMBERS), then
 * ONE pipeline with LLEN of every list of every queue, HLEN of the unacked hash, the whole
 * unacked_index and INFO. Only delivery tags not seen before cost a second round trip (HMGET of
 * their hash values, each parsed once and remembered while the tag stays reserved).
 */
export class RedisQueuePoller implements Collector {
  readonly name = 'redis_queues';
  private readonly client: Redis;
  private readonly layout: RedisQueueLayout;
  private everReady = false;
  private closing = false;
  private lastError: string | undefined;
  private readonly watch: SentinelWatch | undefined;
  private lastDiscovery = Number.NEGATIVE_INFINITY;
  /** Queues named in binding sets at the last discovery. */
  private bound = new Set<string>();
  private bindings = new Map<string, Map<string, string>>();
  /** Queues whose priority sub-lists have held messages: they get the per-priority split. */
  private readonly prioritised = new Set<string>();
  /** Local ms since which a queue has been unbound and empty. */
  private readonly emptySince = new Map<string, number>();
  /** Queues this poller wrote series for (removed on failure). */
  private readonly reported = new Set<string>();
  /** Unacked delivery tag → queue (null: no usable hash value). */
  private tagQueue = new Map<string, string | null>();
  private brokerLabel: string | undefined;
  /** evicted_keys of each server, kept monotonic across Redis restarts. */
  private readonly evictions = new MonotonicMirrors();
  private readonly runIds = new Map<string, string>();

  constructor(
    private readonly cfg: BrokerConfig,
    private readonly deps: RedisQueuePollerDeps,
    private readonly opts: RedisQueuePollerOptions,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.layout = RedisQueueLayout.fromBroker(cfg);
    this.client = new Redis({
      ...redisOptions(cfg, 'celery-exporter:queues'),
      // RESP2 replies everywhere: ZRANGE WITHSCORES and HSCAN as flat arrays, whatever the server.
      protocol: 2,
      // Fail fast while disconnected instead of queueing rounds, and drop (not resend) what a
      // lost connection left unanswered: a round that timed out is over.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (times: number) => (this.closing ? null : backoffDelay(times - 1)),
    });
    this.client.on('error', (err: Error) => {
      this.lastError = describeConnectError(err);
      this.log.debug({ err: err.message }, 'queue poller connection error');
    });
    this.client.on('ready', () => {
      if (this.everReady) this.deps.onReconnect?.();
      this.everReady = true;
    });
    if (cfg.url.sentinels.length > 0) {
      // Reconnect (through the sentinels) as soon as one announces a new master.
      this.watch = new SentinelWatch(cfg, () => this.client.disconnect(true), log);
      this.watch.start();
    }
  }

  async collect(signal: AbortSignal): Promise<void> {
    await this.ready(signal);
    // A round that times out leaves commands in flight on this connection: reconnect, so their
    // late replies are dropped and the next round starts clean.
    const onAbort = () => {
      if (!this.closing) this.client.disconnect(true);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.round(signal);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  onFailure(): void {
    for (const q of this.reported) this.removeQueueSeries(q);
    this.reported.clear();
    if (this.brokerLabel !== undefined) this.deps.brokerMetrics.removeBroker(this.brokerLabel);
    this.brokerLabel = undefined;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.watch?.stop();
    try {
      if (this.client.status === 'ready') await Promise.race([this.client.quit(), new Promise((r) => setTimeout(r, 300))]); // best effort: a black-holed broker never answers
    } catch {
      // already closed
    }
    this.client.disconnect();
  }

  private async round(signal: AbortSignal): Promise<void> {
    const client = this.client;
    const startMs = this.now();
    if (this.opts.discoveryIntervalMs > 0 && startMs - this.lastDiscovery >= this.opts.discoveryIntervalMs) {
      await this.discover(signal);
      this.lastDiscovery = startMs;
    }

    const queues = this.deps.queues.list();
    const keys: PriorityKey[][] = queues.map((q) => this.layout.priorityKeys(q));
    const pipe = client.pipeline();
    for (const ks of keys) for (const k of ks) pipe.llen(k.key);
    pipe.hlen(this.layout.unackedKey);
    pipe.zrange(this.layout.unackedIndexKey, 0, '-1', 'WITHSCORES');
    pipe.info();
    const replies = await execPipeline(pipe, (err) => err.message.startsWith('WRONGTYPE'));
    abortIfNeeded(signal);

    let i = 0;
    // A key of another type under a queue's name (WRONGTYPE) makes that one queue unreadable.
    const lengths = keys.map((ks) => {
      const ls = ks.map(() => replies[i++]);
      return ls.every((l) => typeof l === 'number') ? (ls as number[]) : undefined;
    });
    const hashSize = Number(replies[i++] ?? 0);
    const index = Array.isArray(replies[i]) ? (replies[i] as string[]) : [];
    i++;
    const info = parseRedisInfo(String(replies[i++] ?? ''));

    const unacked = await this.readUnacked(index, hashSize, signal);
    abortIfNeeded(signal);

    // Everything read: write the metrics in one synchronous step.
    const nowMs = this.now();
    const m = this.deps.queueMetrics;
    const listed = new Set(queues);
    for (let q = 0; q < queues.length; q++) {
      const queue = queues[q]!;
      const ls = lengths[q];
      if (ls === undefined) {
        this.removeQueueSeries(queue);
        this.reported.delete(queue);
        this.log.debug({ queue }, 'a key of the queue holds another Redis type; queue not reported');
        continue;
      }
      const depth = queueDepth(keys[q]!, ls);
      const u = unacked.get(queue);
      m.length.labels(queue).set(depth.total);
      if (depth.prioritised) this.prioritised.add(queue);
      if (this.prioritised.has(queue)) for (const [step, n] of depth.byStep) m.lengthByPriority.labels(queue, step).set(n);
      m.unacked.labels(queue).set(u?.count ?? 0);
      m.unackedOldestAge.labels(queue).set(unackedAge(u, nowMs));
      this.reported.add(queue);
      this.maybeForget(queue, depth.total + (u?.count ?? 0) > 0, nowMs);
    }
    for (const q of this.reported) {
      if (!listed.has(q) || !this.deps.queues.has(q)) {
        this.removeQueueSeries(q);
        this.reported.delete(q);
      }
    }
    // Reserved messages of queues not known yet: known from the next round on.
    for (const q of unacked.keys()) if (!listed.has(q)) this.deps.queues.seen(q, 'broker');

    this.writeHealth(info);
  }

  /** Waits for the first connection; afterwards a connection that is down fails the round at once. */
  private async ready(signal: AbortSignal): Promise<void> {
    const c = this.client;
    if (c.status === 'ready') return;
    const notConnected = () => new Error(`not connected to Redis (${c.status}${this.lastError !== undefined ? `; last error: ${this.lastError}` : ''})`);
    const connecting = c.status === 'connecting' || c.status === 'connect';
    // After a lost connection, a reconnect already under way gets a moment: a round triggered by
    // a scrape right after a server-side CLIENT KILL should not count as an outage.
    if (this.everReady && !(connecting || c.status === 'reconnecting')) throw notConnected();
    if (!this.everReady && !connecting && c.status !== 'wait') throw notConnected();
    if (c.status === 'wait') c.connect().catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      const grace = this.everReady ? setTimeout(() => done(notConnected()), RECONNECT_GRACE_MS) : undefined;
      const done = (err?: Error) => {
        clearTimeout(grace);
        c.off('ready', onReady);
        c.off('error', onError);
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onReady = () => done();
      const onError = (err: Error) => done(this.everReady ? notConnected() : new Error(`cannot connect to Redis: ${describeConnectError(err)}`));
      const onAbort = () => done(signal.reason as Error);
      c.once('ready', onReady);
      c.once('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** SCAN for `{gp}_kombu.binding.*` (never KEYS), then the members of every non-internal set. */
  private async discover(signal: AbortSignal): Promise<void> {
    const setKeys = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await this.client.scan(cursor, 'MATCH', this.layout.bindingPattern, 'COUNT', SCAN_COUNT);
      abortIfNeeded(signal);
      cursor = next;
      for (const k of batch) setKeys.add(k);
    } while (cursor !== '0');

    const exchanges: Array<[string, string]> = [];
    for (const key of setKeys) {
      const ex = this.layout.exchangeOfBindingKey(key);
      if (ex !== undefined && !isInternalExchange(ex)) exchanges.push([ex, key]);
    }
    const bound = new Set<string>();
    const bindings = new Map<string, Map<string, string>>();
    if (exchanges.length > 0) {
      const pipe = this.client.pipeline();
      for (const [, key] of exchanges) pipe.smembers(key);
      const replies = await execPipeline(pipe);
      abortIfNeeded(signal);
      exchanges.forEach(([ex], j) => {
        for (const member of replies[j] as string[]) {
          const b = this.layout.parseBinding(member);
          if (b === undefined || isInternalQueue(b.queue)) continue;
          bound.add(b.queue);
          let table = bindings.get(ex);
          if (table === undefined) bindings.set(ex, (table = new Map()));
          if (!table.has(b.routingKey)) table.set(b.routingKey, b.queue);
        }
      });
    }
    this.bound = bound;
    this.bindings = bindings;
    for (const q of bound) this.deps.queues.seen(q, 'broker');
  }

  /**
   * Reserved messages per queue. The index gives every tag and its fetch time; a tag's queue
   * comes from its hash value, fetched (HMGET) only the first time the tag is seen. kombu writes
   * the hash and the index in one MULTI, so they agree; if the hash holds entries the index does
   * not (another writer), an HSCAN finds and counts them.
   */
  private async readUnacked(index: string[], hashSize: number, signal: AbortSignal): Promise<Map<string, UnackedStats>> {
    const known = new Map<string, string | null>();
    const missing: string[] = [];
    for (let j = 0; j < index.length; j += 2) {
      const tag = index[j]!;
      const q = this.tagQueue.get(tag);
      if (q === undefined) missing.push(tag);
      else known.set(tag, q);
    }
    if (missing.length > 0) {
      const values = await this.client.hmget(this.layout.unackedKey, ...missing);
      abortIfNeeded(signal);
      missing.forEach((tag, j) => {
        const v = values[j];
        known.set(tag, v === null || v === undefined ? null : (unackedQueue(v, this.bindings) ?? null));
      });
    }
    this.tagQueue = known;
    const unindexed: string[] = [];
    if (hashSize > index.length / 2) {
      let cursor = '0';
      do {
        const [next, flat] = await this.client.hscan(this.layout.unackedKey, cursor, 'COUNT', HSCAN_COUNT);
        abortIfNeeded(signal);
        cursor = next;
        for (let j = 0; j + 1 < flat.length; j += 2) {
          if (known.has(flat[j]!)) continue;
          const q = unackedQueue(flat[j + 1]!, this.bindings);
          if (q !== undefined) unindexed.push(q);
        }
      } while (cursor !== '0');
    }
    return aggregateUnacked(index, known, unindexed);
  }

  /**
   * A queue that is neither configured, bound, holding messages nor seen by any source for the
   * forget delay, and has been so for that long, stops being reported.
   */
  private maybeForget(queue: string, busy: boolean, nowMs: number): void {
    if (busy || this.bound.has(queue)) {
      this.emptySince.delete(queue);
      return;
    }
    let since = this.emptySince.get(queue);
    if (since === undefined) this.emptySince.set(queue, (since = nowMs));
    const after = this.opts.forgetAfterMs;
    if (after <= 0 || nowMs - since < after) return;
    const lastSeen = this.deps.queues.lastSeen(queue) ?? 0;
    if (nowMs - lastSeen < after) return;
    if (!this.deps.queues.forget(queue)) return;
    this.removeQueueSeries(queue);
    this.reported.delete(queue);
    this.prioritised.delete(queue);
    this.emptySince.delete(queue);
    this.log.info({ queue }, 'queue gone from the broker and empty for the forget delay; no longer reported');
  }

  private removeQueueSeries(queue: string): void {
    const m = this.deps.queueMetrics;
    for (const g of [m.length, m.lengthByPriority, m.unacked, m.unackedOldestAge]) g.removeWhere('queue_name', queue);
  }

  private writeHealth(info: ReturnType<typeof parseRedisInfo>): void {
    const label = this.currentBrokerLabel();
    if (this.brokerLabel !== undefined && this.brokerLabel !== label) this.deps.brokerMetrics.removeBroker(this.brokerLabel);
    this.brokerLabel = label;
    const b = this.deps.brokerMetrics;
    const put = (g: { labels(v: string): { set(n: number): void } }, remove: (v: string) => boolean, v: number | undefined) => {
      if (v === undefined) remove(label);
      else g.labels(label).set(v);
    };
    put(b.connectedClients, (l) => b.connectedClients.remove(l), info.connectedClients);
    put(b.memoryUsed, (l) => b.memoryUsed.remove(l), info.usedMemoryBytes);
    put(b.uptime, (l) => b.uptime.remove(l), info.uptimeSeconds);
    // Redis's own counter, mirrored; it restarts at 0 with Redis, ours keeps what it had counted.
    const restarted = info.runId !== undefined && this.runIds.has(label) && this.runIds.get(label) !== info.runId;
    if (info.runId !== undefined) this.runIds.set(label, info.runId);
    put(b.evictedKeys, (l) => b.evictedKeys.remove(l), info.evictedKeys === undefined ? undefined : this.evictions.update(label, info.evictedKeys, restarted));
  }

  /** host:port of the Redis server; behind Sentinel, the master actually connected to. */
  private currentBrokerLabel(): string {
    const u = this.cfg.url;
    if (u.socketPath !== undefined) return `unix:${u.socketPath}`;
    if (u.sentinels.length > 0) {
      const s = this.client.stream as { remoteAddress?: string; remotePort?: number } | undefined;
      if (s?.remoteAddress !== undefined && s.remotePort !== undefined) return `${s.remoteAddress}:${s.remotePort}`;
    }
    return `${u.host}:${u.port}`;
  }
}

function unackedAge(u: UnackedStats | undefined, nowMs: number): number {
  if (u === undefined || !(u.oldest === u.oldest)) return 0;
  return Math.max(0, nowMs / 1000 - u.oldest);
}

function abortIfNeeded(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('poll aborted');
}

/**
 * Runs a pipeline; a failed command fails the round (no partial, possibly wrong, values) unless
 * `tolerate` accepts its error, which then stands in the result as undefined.
 */
async function execPipeline(pipe: ReturnType<Redis['pipeline']>, tolerate: (err: Error) => boolean = () => false): Promise<unknown[]> {
  const res = await pipe.exec();
  if (res === null) throw new Error('pipeline discarded');
  return res.map(([err, v]) => {
    if (err) {
      if (tolerate(err)) return undefined;
      throw err;
    }
    return v;
  });
}
