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
import { RedisBrokerHealth } from './broker-health.js';
import { parseRedisInfo } from './info.js';
import { SentinelWatch } from './sentinel-watch.js';
import { RedisQueueLayout, queueDepth, type PriorityKey } from './queue-keys.js';
import { abortIfNeeded, discoverQueues, execPipeline, readUnacked } from './queue-reads.js';
import type { UnackedStats } from './unacked.js';

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

/** How long a round waits for a reconnect under way before it fails (see ready()). */
const RECONNECT_GRACE_MS = 1000;

/** What one round's pipeline read: the lengths of each queue's lists, and the reserved messages. */
interface RoundReads {
  queues: string[];
  keys: PriorityKey[][];
  /** Per queue, its lists' lengths; undefined when a key holds another Redis type. */
  lengths: Array<number[] | undefined>;
  unacked: Map<string, UnackedStats>;
}

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
  private readonly tags = { byTag: new Map<string, string | null>() };
  private readonly health: RedisBrokerHealth;

  constructor(
    private readonly cfg: BrokerConfig,
    private readonly deps: RedisQueuePollerDeps,
    private readonly opts: RedisQueuePollerOptions,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.layout = RedisQueueLayout.fromBroker(cfg);
    this.health = new RedisBrokerHealth(cfg, deps.brokerMetrics);
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
    this.health.remove();
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
    const startMs = this.now();
    if (this.opts.discoveryIntervalMs > 0 && startMs - this.lastDiscovery >= this.opts.discoveryIntervalMs) {
      const found = await discoverQueues(this.client, this.layout, signal);
      this.bound = found.bound;
      this.bindings = found.bindings;
      for (const q of found.bound) this.deps.queues.seen(q, 'broker');
      this.lastDiscovery = startMs;
    }
    const { reads, info } = await this.read(signal);
    // Everything read: write the metrics in one synchronous step.
    this.writeQueues(reads);
    this.health.write(info, this.client.stream);
  }

  /**
   * ONE pipeline: LLEN of every list of every known queue, HLEN of the unacked hash, the whole
   * unacked_index and INFO; then the reserved messages' queues (readUnacked).
   */
  private async read(signal: AbortSignal): Promise<{ reads: RoundReads; info: ReturnType<typeof parseRedisInfo> }> {
    const queues = this.deps.queues.list();
    const keys: PriorityKey[][] = queues.map((q) => this.layout.priorityKeys(q));
    const pipe = this.client.pipeline();
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

    const unacked = await readUnacked(this.client, this.layout, { index, hashSize, bindings: this.bindings }, this.tags, signal);
    abortIfNeeded(signal);
    return { reads: { queues, keys, lengths, unacked }, info };
  }

  private writeQueues({ queues, keys, lengths, unacked }: RoundReads): void {
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
}

function unackedAge(u: UnackedStats | undefined, nowMs: number): number {
  if (u === undefined || Number.isNaN(u.oldest)) return 0;
  return Math.max(0, nowMs / 1000 - u.oldest);
}
