import type { Socket } from 'node:net';
import type { BrokerConfig } from '../../config/config.js';
import type { EventSink } from '../transport.js';
import { redisEventMessages } from './event-messages.js';
import { COALESCE_BELOW_BYTES, COALESCE_MS } from '../read-coalescing.js';
import { refusedSelect, refusedSubscribe } from './refusals.js';
import { encodeCommand, RespError, RespReader, type Reply } from './resp.js';
import { FULL_READ_TCP, FULL_READ_TLS, parseServerFacts, ReadBacklog, type LostSubscription, type ServerFacts } from './subscription-loss.js';

/** A subscriber that has been silent this long (no message, no pong) is treated as dead. */
const HEALTH_INTERVAL_MS = 30_000;

export interface SessionContext {
  cfg: BrokerConfig;
  patterns: readonly string[];
  sink: EventSink;
  /** The event lag the pipeline last measured (seconds); sampled per socket read. */
  eventLagSeconds?: () => number;
  /** Every pattern confirmed: the subscription is up, on the server INFO described. */
  onSubscribed(facts: ServerFacts, address: string): void;
}

/**
 * One connection of the event subscriber (event-subscriber.ts), from the open socket to its
 * close: the handshake (AUTH, CLIENT SETNAME, INFO, SELECT, PSUBSCRIBE, each refusal turned into
 * the line that says what to fix), the read loop (RESP frames → event-messages.ts → pipeline),
 * the health check, and what the subscription looked like when it ended (subscription-loss.ts).
 */
export class EventSession {
  readonly address: string;
  /** Set by the server closing the connection (FIN or reset), not by our health check or shutdown. */
  serverClosed = false;
  private readonly expect: Array<(r: Reply) => void> = [];
  private readonly backlog: ReadBacklog;
  private readonly reader: RespReader;
  private minLag = Number.POSITIVE_INFINITY;
  private lastLag = Number.NaN;
  private lastData = Date.now();
  private subscribedAt: number | undefined;
  private facts: ServerFacts = {};
  private failure: Error | undefined;
  private coalescing = false;

  constructor(
    private readonly sock: Socket,
    private readonly ctx: SessionContext,
  ) {
    this.address = sock.remoteAddress !== undefined ? `${sock.remoteAddress}:${sock.remotePort}` : `unix:${ctx.cfg.url.socketPath}`;
    this.backlog = new ReadBacklog(ctx.cfg.url.tls ? FULL_READ_TLS : FULL_READ_TCP);
    this.reader = new RespReader({
      onMessage: redisEventMessages(ctx.sink),
      onReply: (r) => {
        // Replies read in the same chunk after a refusal (e.g. PSUBSCRIBE after a refused SELECT) are void.
        if (this.failure !== undefined) return;
        // A pong or a late subscribe confirmation needs no handler.
        this.expect.shift()?.(r);
      },
    });
  }

  /** Handshake, then reads until the socket closes. Never throws. */
  async run(): Promise<void> {
    const closed = this.listen();
    this.handshake();
    const health = setInterval(() => {
      if (Date.now() - this.lastData > 2 * HEALTH_INTERVAL_MS) return this.fail(new Error('no data or pong for 60 s; connection presumed dead'));
      this.sock.write(encodeCommand(['PING']));
    }, HEALTH_INTERVAL_MS);
    try {
      await closed;
    } finally {
      clearInterval(health);
    }
  }

  /** Why the connection ended. */
  get error(): Error {
    return this.failure ?? new Error(this.serverClosed ? 'Redis closed the connection' : 'connection closed');
  }

  /** The subscription as it was when the socket closed, for the next connection to judge; undefined when it never got subscribed. */
  lossAtClose(): LostSubscription | undefined {
    if (this.subscribedAt === undefined) return undefined;
    const [fullReads, backlogBytes] = this.backlog.atClose();
    const lagGrowth = this.minLag === Number.POSITIVE_INFINITY || Number.isNaN(this.lastLag) ? 0 : Math.max(0, this.lastLag - this.minLag);
    return { facts: this.facts, address: this.address, fullReads, backlogBytes, lagGrowth, upMs: Date.now() - this.subscribedAt };
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.sock.destroy();
  }

  /** The read loop: every chunk to the RESP reader; resolves when the socket closes. */
  private listen(): Promise<void> {
    const sock = this.sock;
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    // FIN from the server: Redis closed us (output-buffer limit, CLIENT KILL, shutdown).
    sock.on('end', () => {
      if (this.failure === undefined) this.serverClosed = true;
    });
    return new Promise<void>((resolve) => {
      sock.once('close', () => resolve());
      sock.on('error', (err: NodeJS.ErrnoException) => {
        if (this.failure === undefined && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) this.serverClosed = true;
        this.fail(err);
      });
    });
  }

  private onData(chunk: Buffer): void {
    this.lastData = Date.now();
    this.backlog.onRead(chunk.length);
    try {
      this.reader.feed(chunk);
    } catch (err) {
      this.fail(err instanceof RespError ? err : new Error(`protocol error: ${(err as Error).message}`));
    }
    // Caught up (a short read): let the kernel gather the next messages (read-coalescing.ts).
    // A longer read means more may be waiting: keep reading. Chunks Node buffered during a pause
    // are then handed over one per pause until a long one comes, so the stream's buffer stays
    // near its high-water mark and Node rarely reads small chunks: handling them all at once
    // before pausing again cost 5 % more CPU per event at 20k events/s (16.65/16.99/16.79 against
    // 15.86/16.43/15.78 µs, interleaved runs); the price is that at a few hundred messages a
    // second an event can wait up to about 16 chunks × 16 ms before it is counted.
    if (!this.coalescing && chunk.length < COALESCE_BELOW_BYTES) {
      this.coalescing = true;
      this.sock.pause();
      setTimeout(this.resume, COALESCE_MS);
    }
    const lagOf = this.ctx.eventLagSeconds;
    if (lagOf !== undefined) {
      this.lastLag = lagOf();
      if (this.lastLag < this.minLag) this.minLag = this.lastLag;
    }
  }

  private readonly resume = (): void => {
    this.coalescing = false;
    if (!this.sock.destroyed) this.sock.resume();
  };

  private send(args: readonly string[], onReply: (r: Reply) => void): void {
    this.sock.write(encodeCommand(args));
    this.expect.push(onReply);
  }

  /** AUTH, CLIENT SETNAME, INFO, SELECT, INFO commandstats, PSUBSCRIBE: written at once, replies handled in order. */
  private handshake(): void {
    const u = this.ctx.cfg.url;
    if (u.password !== undefined) {
      this.send(u.username !== undefined ? ['AUTH', u.username, u.password] : ['AUTH', u.password], (r) => {
        // Redis without a password rejects AUTH; kombu/ioredis carry on, so do we.
        if (r instanceof Error && !/without any password configured|no password is set/i.test(r.message)) {
          this.fail(new Error(`authentication failed (wrong password or user in the broker URL): ${r.message}`));
        }
      });
    }
    this.send(['CLIENT', 'SETNAME', 'celery-exporter:events'], () => undefined);
    // INFO may be refused (ACLs, renamed commands): the loss diagnosis then has less to go on.
    this.send(['INFO'], (r) => {
      if (r instanceof Error && /^NOAUTH/.test(r.message)) return this.fail(new Error('Redis requires a password (NOAUTH) and the broker URL has none'));
      if (typeof r === 'string') this.facts = parseServerFacts(r);
      if (u.sentinels.length > 0 && this.facts.role !== undefined && this.facts.role !== 'master') {
        this.fail(new Error(`${this.address} is a ${this.facts.role}, not the master (failover in progress?); asking the sentinels again`));
      }
    });
    // Pub/sub ignores the database, but Celery's workers SELECT it: a DB index the server
    // rejects means no worker can publish there, so the subscription must not report ready.
    if (u.db !== 0) {
      this.send(['SELECT', String(u.db)], (r) => {
        if (r instanceof Error) this.fail(new Error(refusedSelect(u.db, u.username, r.message)));
      });
    }
    // Per-subcommand call counts (Redis 7): tell a CLIENT KILL from the output-buffer limit.
    this.send(['INFO', 'commandstats'], (r) => {
      if (typeof r === 'string') this.facts = { ...this.facts, ...parseServerFacts(r) };
    });
    this.subscribe();
  }

  /** One PSUBSCRIBE for every pattern; up when the server confirmed each of them. */
  private subscribe(): void {
    const patterns = this.ctx.patterns;
    this.sock.write(encodeCommand(['PSUBSCRIBE', ...patterns]));
    let confirmed = 0;
    for (let i = 0; i < patterns.length; i++) {
      this.expect.push((r) => {
        if (r instanceof Error) return this.fail(new Error(refusedSubscribe(patterns, this.ctx.cfg.url.username, r.message)));
        if (++confirmed === patterns.length) {
          this.subscribedAt = Date.now();
          this.ctx.onSubscribed(this.facts, this.address);
        }
      });
    }
  }
}
