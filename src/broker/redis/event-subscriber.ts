import type { Socket } from 'node:net';
import type { BrokerConfig } from '../../config/config.js';
import type { Logger } from '../../log.js';
import { backoffDelay } from '../../util/backoff.js';
import { describeConnectError } from '../connect-errors.js';
import type { EventTransport, TransportHooks } from '../transport.js';
import { fanoutPrefixes, keyPrefix } from './connect.js';
import { redisEventMessages } from './event-messages.js';
import { refusedSelect, refusedSubscribe } from './refusals.js';
import { encodeCommand, RespError, RespReader, type Reply } from './resp.js';
import { SentinelWatch } from './sentinel-watch.js';
import { openRedisSocket } from './socket.js';
import { FULL_READ_TCP, FULL_READ_TLS, judgeLoss, parseServerFacts, ReadBacklog, type LostSubscription, type ServerFacts } from './subscription-loss.js';

/**
 * How long reads pause after a short read (we are caught up); events then reach the metrics at
 * most this late (nothing is lost: the kernel and Redis hold them meanwhile). Measured at 20k
 * events/s, CPU µs/event: 4 ms 5.6 (mean of 5 runs), 16 ms 4.85 (3 runs). Pausing after every
 * non-full read instead saved no more and lost the 200k burst in 2 of 5 runs (Redis closed the
 * subscriber): a pause must never happen while a backlog is being read.
 */
const COALESCE_MS = 16;
const COALESCE_BELOW_BYTES = 16 * 1024;
/** A subscriber that has been silent this long (no message, no pong) is treated as dead. */
const HEALTH_INTERVAL_MS = 30_000;
/** Attempts reset after a connection stayed up this long. */
const STABLE_MS = 30_000;
/**
 * A subscription the server closed after it had been up this long is re-established at once
 * (every moment without it loses events), at most once per IMMEDIATE_EVERY_MS; otherwise, and
 * for every failed attempt, the backoff applies.
 */
const IMMEDIATE_MIN_UP_MS = 1_000;
const IMMEDIATE_EVERY_MS = 30_000;

/** How one connection ended. */
interface SessionEnd {
  error: Error;
  /** ms the subscription was up; undefined when it never got subscribed. */
  upMs: number | undefined;
  /** The server closed it (FIN or reset), not our health check, our shutdown or a failover switch. */
  serverClosed: boolean;
  /** Sentinel announced a new master: reconnect at once. */
  switched: boolean;
}

/**
 * Celery events over Redis: kombu publishes each event with PUBLISH on
 * `{global_keyprefix}/{db}.celeryev/<routing key>` (docs/protocol.md §2.2), so we PSUBSCRIBE to
 * that pattern — plus the bare channel kombu 3.x producers (fanout_patterns=False) use.
 *
 * This one connection speaks RESP on a raw socket instead of going through ioredis: every
 * message is handed to the decoder as a view of the socket buffer, which halves the cost of a
 * message (ioredis turns the pattern, channel and payload into strings and emits twice).
 * Everything else (pollers, remote control) uses ioredis.
 *
 * Before subscribing, each connection reads INFO (run_id, role, disconnection counters), so a
 * lost subscription can be explained on the next one: a restart, a failover, or Redis dropping
 * a subscriber that fell behind (subscription-loss.ts), which loses events and is counted.
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
  private readonly watch: SentinelWatch | undefined;
  /** Sentinel announced a new master while the current connection was up. */
  private switchedTo: string | undefined;
  /** The last subscription, when it ended: judged once the next one is up. */
  private lost: (LostSubscription & { serverClosed: boolean }) | undefined;
  /** The outage being reported: when it began, failed attempts, last error. */
  private outage: { since: number; attempts: number; lastError: string } | undefined;

  constructor(
    private readonly cfg: BrokerConfig,
    private readonly hooks: TransportHooks,
    private readonly log: Logger,
  ) {
    this.patterns = [];
    for (const fp of fanoutPrefixes(cfg)) {
      const channel = `${keyPrefix(cfg)}${fp}celeryev`;
      this.patterns.push(`${escapeGlob(channel)}/*`, escapeGlob(channel));
    }
    if (cfg.url.sentinels.length > 0) {
      this.watch = new SentinelWatch(cfg, (to) => this.onSwitchMaster(to), log);
    }
  }

  get ready(): boolean {
    return this.isReady;
  }

  start(): void {
    this.watch?.start();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.watch?.stop();
    this.wake?.();
    this.sock?.destroy();
    this.setReady(false, 'stopping');
    await this.loop;
  }

  private onSwitchMaster(to: string): void {
    if (this.stopping) return;
    const current = this.sock === undefined ? undefined : `${this.sock.remoteAddress}:${this.sock.remotePort}`;
    if (current === to) return;
    this.log.info({ master: to }, 'Sentinel announced a new master; moving the event subscription to it');
    this.switchedTo = to;
    if (this.sock !== undefined) this.sock.destroy(new Error(`Sentinel failover to ${to}`));
    else this.wake?.();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    let lastImmediate = Number.NEGATIVE_INFINITY;
    while (!this.stopping) {
      const end = await this.session();
      if (this.stopping) break;
      const reason = describeConnectError(end.error);
      if (this.outage === undefined) this.outage = { since: Date.now(), attempts: 0, lastError: reason };
      else this.outage.attempts++;
      this.outage.lastError = reason;
      this.setReady(false, reason);
      if (end.upMs !== undefined && end.upMs > STABLE_MS) attempt = 0;
      const now = Date.now();
      let delay: number;
      if (end.switched || (end.serverClosed && end.upMs !== undefined && end.upMs >= IMMEDIATE_MIN_UP_MS && now - lastImmediate >= IMMEDIATE_EVERY_MS)) {
        if (!end.switched) lastImmediate = now;
        delay = 0;
      } else {
        delay = backoffDelay(attempt++);
      }
      this.log.debug({ attempt, delayMs: delay, err: reason }, 'reconnecting the event subscriber');
      if (delay > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }

  /** One connection: handshake, INFO, subscribe, consume until the socket closes. Never throws. */
  private async session(): Promise<SessionEnd> {
    let sock: Socket;
    try {
      sock = await openRedisSocket(this.cfg);
    } catch (err) {
      return { error: err instanceof Error ? err : new Error(String(err)), upMs: undefined, serverClosed: false, switched: false };
    }
    this.sock = sock;
    if (this.stopping) {
      sock.destroy();
      return { error: new Error('stopping'), upMs: undefined, serverClosed: false, switched: false };
    }
    this.switchedTo = undefined;
    const address = sock.remoteAddress !== undefined ? `${sock.remoteAddress}:${sock.remotePort}` : `unix:${this.cfg.url.socketPath}`;
    const pipeline = this.hooks.pipeline;
    const lagOf = this.hooks.eventLagSeconds;
    const expect: Array<(r: Reply) => void> = [];
    const backlog = new ReadBacklog(this.cfg.url.tls ? FULL_READ_TLS : FULL_READ_TCP);
    let minLag = Number.POSITIVE_INFINITY;
    let lastLag = Number.NaN;
    let lastData = Date.now();
    let subscribedAt: number | undefined;
    let facts: ServerFacts = {};
    let failure: Error | undefined;
    let serverClosed = false;
    const fail = (err: Error) => {
      failure ??= err;
      sock.destroy();
    };
    const reader = new RespReader({
      onMessage: redisEventMessages(pipeline),
      onReply: (r) => {
        // Replies read in the same chunk after a refusal (e.g. PSUBSCRIBE after a refused SELECT) are void.
        if (failure !== undefined) return;
        const handler = expect.shift();
        if (handler !== undefined) handler(r);
        // A pong or a late subscribe confirmation needs no handling.
      },
    });
    let coalescing = false;
    const resume = () => {
      coalescing = false;
      if (!sock.destroyed) sock.resume();
    };
    sock.on('data', (chunk: Buffer) => {
      lastData = Date.now();
      backlog.onRead(chunk.length);
      try {
        reader.feed(chunk);
      } catch (err) {
        fail(err instanceof RespError ? err : new Error(`protocol error: ${(err as Error).message}`));
      }
      // Caught up (a short read): let the kernel gather the next messages for a few
      // milliseconds, so one read carries hundreds of them instead of a handful — fewer
      // wake-ups and system calls. A longer read means more may be waiting: keep reading.
      if (!coalescing && chunk.length < COALESCE_BELOW_BYTES) {
        coalescing = true;
        sock.pause();
        setTimeout(resume, COALESCE_MS);
      }
      if (lagOf !== undefined) {
        lastLag = lagOf();
        if (lastLag < minLag) minLag = lastLag;
      }
    });
    // FIN from the server: Redis closed us (output-buffer limit, CLIENT KILL, shutdown).
    sock.on('end', () => {
      if (failure === undefined) serverClosed = true;
    });
    const closed = new Promise<void>((resolve) => {
      sock.once('close', () => resolve());
      sock.on('error', (err: NodeJS.ErrnoException) => {
        if (failure === undefined && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) serverClosed = true;
        fail(err);
      });
    });

    const u = this.cfg.url;
    const noAuth = (r: Reply) => r instanceof Error && /^NOAUTH/.test(r.message);
    if (u.password !== undefined) {
      sock.write(encodeCommand(u.username !== undefined ? ['AUTH', u.username, u.password] : ['AUTH', u.password]));
      expect.push((r) => {
        // Redis without a password rejects AUTH; kombu/ioredis carry on, so do we.
        if (r instanceof Error && !/without any password configured|no password is set/i.test(r.message)) {
          fail(new Error(`authentication failed (wrong password or user in the broker URL): ${r.message}`));
        }
      });
    }
    sock.write(encodeCommand(['CLIENT', 'SETNAME', 'celery-exporter:events']));
    expect.push(() => undefined);
    // INFO may be refused (ACLs, renamed commands): the loss diagnosis then has less to go on.
    sock.write(encodeCommand(['INFO']));
    expect.push((r) => {
      if (noAuth(r)) return fail(new Error('Redis requires a password (NOAUTH) and the broker URL has none'));
      if (typeof r === 'string') facts = parseServerFacts(r);
      if (u.sentinels.length > 0 && facts.role !== undefined && facts.role !== 'master') {
        fail(new Error(`${address} is a ${facts.role}, not the master (failover in progress?); asking the sentinels again`));
      }
    });
    // Pub/sub ignores the database, but Celery's workers SELECT it: a DB index the server
    // rejects means no worker can publish there, so the subscription must not report ready.
    if (u.db !== 0) {
      sock.write(encodeCommand(['SELECT', String(u.db)]));
      expect.push((r) => {
        if (r instanceof Error) fail(new Error(refusedSelect(u.db, u.username, r.message)));
      });
    }
    // Per-subcommand call counts (Redis 7): tell a CLIENT KILL from the output-buffer limit.
    sock.write(encodeCommand(['INFO', 'commandstats']));
    expect.push((r) => {
      if (typeof r === 'string') facts = { ...facts, ...parseServerFacts(r) };
    });
    sock.write(encodeCommand(['PSUBSCRIBE', ...this.patterns]));
    let confirmed = 0;
    for (let i = 0; i < this.patterns.length; i++) {
      expect.push((r) => {
        if (r instanceof Error) return fail(new Error(refusedSubscribe(this.patterns, u.username, r.message)));
        if (++confirmed === this.patterns.length) {
          subscribedAt = Date.now();
          this.subscribed(facts, address);
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
    const switched = this.switchedTo !== undefined;
    const upMs = subscribedAt === undefined ? undefined : Date.now() - subscribedAt;
    if (upMs !== undefined) {
      const [fullReads, backlogBytes] = backlog.atClose();
      const lagGrowth = minLag === Number.POSITIVE_INFINITY || !(lastLag === lastLag) ? 0 : Math.max(0, lastLag - minLag);
      this.lost = { facts, address, fullReads, backlogBytes, lagGrowth, upMs, serverClosed: serverClosed && !switched };
    }
    const error = failure ?? new Error(serverClosed ? 'Redis closed the connection' : 'connection closed');
    return { error, upMs, serverClosed: serverClosed && !switched, switched };
  }

  /** Subscribed: explain what happened to the previous subscription, then report ready. */
  private subscribed(facts: ServerFacts, address: string): void {
    let note = '';
    const lost = this.lost;
    this.lost = undefined;
    if (lost !== undefined) {
      const verdict = judgeLoss(lost, facts, address);
      if (verdict.kind === 'other-server') {
        note = `; ${verdict.detail}`;
      } else if (lost.serverClosed && verdict.kind === 'dropped') {
        this.hooks.onEventsDropped?.();
        this.log.warn(
          { cause: verdict.cause, evidence: verdict.evidence, upSeconds: Math.round(lost.upMs / 1000) },
          `events lost: Redis dropped the event subscription while the exporter was behind — ${verdict.cause}. ` +
            'The events Redis had queued for the exporter are gone (counted in celery_exporter_events_dropped_suspected_total); ' +
            'give the exporter more CPU, or raise client-output-buffer-limit pubsub on the Redis server',
        );
        note = '; events were lost (see the previous line)';
      } else if (lost.serverClosed && verdict.kind === 'closed') {
        note = `; ${verdict.detail}`;
      }
    }
    const o = this.outage;
    this.outage = undefined;
    if (o !== undefined) {
      const secs = ((Date.now() - o.since) / 1000).toFixed(1);
      note += `; down ${secs} s, ${o.attempts} failed attempt${o.attempts === 1 ? '' : 's'}${o.attempts > 0 ? `, last: ${o.lastError}` : ''}`;
    }
    if (this.everReady) this.hooks.onReconnect?.('events');
    this.everReady = true;
    this.setReady(true, `subscribed to ${this.patterns.join(' and ')} on ${address}${note}`);
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
