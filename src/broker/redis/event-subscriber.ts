import type { Socket } from 'node:net';
import type { BrokerConfig } from '../../config/config.js';
import type { Logger } from '../../log.js';
import { backoffDelay } from '../../util/backoff.js';
import { describeConnectError } from '../connect-errors.js';
import { OutageReporter } from '../outage.js';
import type { EventTransport, TransportHooks } from '../transport.js';
import { fanoutPrefixes, keyPrefix } from './connect.js';
import { EventSession } from './event-session.js';
import { SentinelWatch } from './sentinel-watch.js';
import { openRedisSocket } from './socket.js';
import { judgeLoss, type LostSubscription, type ServerFacts } from './subscription-loss.js';

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
 * Everything else (pollers, remote control) uses ioredis. This class keeps the subscription
 * going (reconnects, backoff, Sentinel failovers, readiness through outage.ts); each connection
 * is an EventSession (event-session.ts: handshake, read loop, health check).
 *
 * Before subscribing, each connection reads INFO (run_id, role, disconnection counters), so a
 * lost subscription can be explained on the next one: a restart, a failover, or Redis dropping
 * a subscriber that fell behind (subscription-loss.ts), which loses events and is counted.
 */
export class RedisEventSubscriber implements EventTransport {
  readonly kind = 'redis' as const;
  readonly patterns: string[];
  private sock: Socket | undefined;
  private readonly status: OutageReporter;
  private stopping = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly watch: SentinelWatch | undefined;
  /** Sentinel announced a new master while the current connection was up. */
  private switchedTo: string | undefined;
  /** The last subscription, when it ended: judged once the next one is up. */
  private lost: (LostSubscription & { serverClosed: boolean }) | undefined;

  constructor(
    private readonly cfg: BrokerConfig,
    private readonly hooks: TransportHooks,
    private readonly log: Logger,
  ) {
    this.status = new OutageReporter(hooks);
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
    return this.status.ready;
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
    this.status.stopping();
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
      this.status.down(reason);
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

  /** One connection: opens the socket and runs an EventSession on it until it closes. Never throws. */
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
    const session = new EventSession(sock, {
      cfg: this.cfg,
      patterns: this.patterns,
      sink: this.hooks.pipeline,
      ...(this.hooks.eventLagSeconds !== undefined && { eventLagSeconds: this.hooks.eventLagSeconds }),
      onSubscribed: (facts, address) => this.subscribed(facts, address),
    });
    try {
      await session.run();
    } finally {
      this.sock = undefined;
    }
    const switched = this.switchedTo !== undefined;
    const serverClosed = session.serverClosed && !switched;
    const lost = session.lossAtClose();
    if (lost !== undefined) this.lost = { ...lost, serverClosed };
    return { error: session.error, upMs: lost?.upMs, serverClosed, switched };
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
    this.status.up(`subscribed to ${this.patterns.join(' and ')} on ${address}${note}`);
  }
}

/** PSUBSCRIBE patterns are globs: a key prefix with *, ? or [ must not widen the subscription. */
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
