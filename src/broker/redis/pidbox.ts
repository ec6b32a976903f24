import { Redis } from 'ioredis';
import type { BrokerConfig } from '../../config/config.js';
import type { Logger } from '../../log.js';
import { abortReason, raceAbort, type Mailbox, type MailboxHooks, type RawReply, type ReplyInbox } from '../../remote/mailbox.js';
import { pidboxNames, replyQueueName, type PidboxNames, type PidboxRequest, type RequestHeaders } from '../../remote/protocol.js';
import { backoffDelay } from '../../util/backoff.js';
import { describeConnectError } from '../connect-errors.js';
import { fanoutPrefixes, keyPrefix, redisOptions } from './connect.js';
import { RedisInbox, type Cleanup, type InboxOwner } from './pidbox-inbox.js';
import { envelope, unframe } from './pidbox-wire.js';
import { DEFAULT_PRIORITY_STEPS, DEFAULT_SEP } from './queue-keys.js';
import { SentinelWatch } from './sentinel-watch.js';

/** Blocking connections kept for reuse; more are opened while calls overlap and closed after. */
const MAX_IDLE_BLOCKING = 8;
/**
 * A worker routes its reply with SMEMBERS and then LPUSHes it; a reply whose lookup ran just
 * before our SREM lands after our DEL. The reply keys are deleted once more after this delay.
 */
const LATE_REPLY_GRACE_MS = 5000;
/** How long close() waits for the broker to acknowledge its cleanups; a healthy one takes ~1 ms. */
const CLOSE_GRACE_MS = 300;

/**
 * The pidbox protocol over Redis (docs/protocol.md §5.5): SADD the reply binding, PUBLISH the
 * request on the mailbox channel, BRPOP the reply list on a connection of its own, then SREM
 * the binding and DEL the lists.
 */
export class RedisMailbox implements Mailbox, InboxOwner {
  readonly kind = 'redis' as const;
  private cmd: Redis | undefined;
  private readonly idle: Redis[] = [];
  private readonly open = new Set<Redis>();
  /** Cleanups that failed (connection lost); retried before the next call and on close. */
  private readonly pending = new Map<string, Cleanup>();
  private readonly lateSweeps = new Map<NodeJS.Timeout, string[]>();
  /** Cleanups under way; close() waits for them (a shutdown aborts calls just before closing). */
  private readonly cleaning = new Set<Promise<void>>();
  private integerTimeouts = false;
  /** The last connection error, which says more than ioredis's "max retries" rejection. */
  private lastConnError: string | undefined;
  private closed = false;
  private everReady = false;
  private watch: SentinelWatch | undefined;
  private readonly prefix: string;
  private readonly sep: string;
  private readonly steps: readonly number[];
  private readonly channels: string[];
  private readonly bindingKey: string;

  constructor(
    private readonly cfg: BrokerConfig,
    private readonly log?: Logger,
    private readonly names: PidboxNames = pidboxNames(),
    private readonly hooks: MailboxHooks = {},
  ) {
    this.prefix = keyPrefix(cfg);
    const sep = cfg.transportOptions['sep'];
    this.sep = typeof sep === 'string' && sep !== '' ? sep : DEFAULT_SEP;
    const steps = cfg.transportOptions['priority_steps'];
    this.steps = Array.isArray(steps) && steps.every((s) => typeof s === 'number') ? (steps as number[]) : DEFAULT_PRIORITY_STEPS;
    this.channels = fanoutPrefixes(cfg).map((fp) => `${this.prefix}${fp}${names.requestExchange}`);
    this.bindingKey = `${this.prefix}_kombu.binding.${names.replyExchange}`;
  }

  async openInbox(oid: string, signal?: AbortSignal): Promise<ReplyInbox> {
    this.assertOpen();
    await this.retryPendingCleanups();
    const queue = replyQueueName(oid, this.names);
    // Direct-exchange binding member: routing key, empty pattern, queue (kombu `_queue_bind`).
    const cleanup: Cleanup = { member: `${oid}${this.sep}${this.sep}${queue}`, keys: this.replyKeys(queue) };
    try {
      await raceAbort(this.command().sadd(this.bindingKey, cleanup.member), signal);
    } catch (err) {
      // The SADD may still land later; make sure it is undone.
      this.pending.set(cleanup.member, cleanup);
      throw this.explain(err);
    }
    return new RedisInbox(this, cleanup);
  }

  async publish(request: PidboxRequest, headers: RequestHeaders, signal?: AbortSignal): Promise<number> {
    this.assertOpen();
    try {
      const body = envelope(request, headers, this.names);
      const cmd = this.command();
      // Each worker listens on one of the channels: the receivers add up.
      const counts = await raceAbort(Promise.all(this.channels.map((c) => cmd.publish(c, body))), signal);
      return counts.reduce((a, n) => a + n, 0);
    } catch (err) {
      throw this.explain(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watch?.stop();
    const late = [...this.lateSweeps.entries()];
    this.lateSweeps.clear();
    for (const [t] of late) clearTimeout(t);
    const all = [...this.open];
    if (this.cmd !== undefined) all.push(this.cmd);
    // The goodbyes (cleanups, QUIT) are best effort: a broker that is down or black-holed answers
    // none of them, and waiting for it made a shutdown run into the 5 s watchdog.
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
    await Promise.race([this.goodbyes(late.flatMap(([, k]) => k), all), grace]);
    clearTimeout(timer);
    this.open.clear();
    this.idle.length = 0;
    this.cmd = undefined;
    for (const c of all) c.disconnect();
  }

  private async goodbyes(lateKeys: string[], all: Redis[]): Promise<void> {
    await Promise.allSettled([...this.cleaning]);
    if (this.cmd !== undefined && this.cmd.status === 'ready') {
      await this.retryPendingCleanups();
      if (lateKeys.length > 0) await this.cmd.del(...lateKeys).catch(() => undefined);
    }
    await Promise.all(all.map((c) => quit(c)));
  }

  /** BRPOP on a connection of its own; `undefined` after `idleMs` without a reply. */
  async pop(conn: Redis, keys: string[], idleMs: number, signal: AbortSignal | undefined): Promise<RawReply | undefined> {
    const seconds = this.integerTimeouts ? Math.max(1, Math.ceil(idleMs / 1000)) : Math.max(0.001, Math.round(idleMs) / 1000);
    let res: [string, string] | null;
    try {
      res = await raceAbort(conn.brpop(...keys, seconds), signal);
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      // Redis < 6 takes whole seconds only.
      if (!this.integerTimeouts && /timeout is not an integer/i.test(String(err))) {
        this.integerTimeouts = true;
        return this.pop(conn, keys, idleMs, signal);
      }
      throw this.explain(err);
    }
    return res === null ? undefined : unframe(res[1]);
  }

  acquireBlocking(): Redis {
    this.assertOpen();
    const c = this.idle.pop();
    if (c !== undefined) return c;
    const conn = new Redis({
      ...redisOptions(this.cfg, 'celery-exporter:control-reply'),
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => (this.closed ? null : backoffDelay(times - 1)),
    });
    conn.on('error', (err: Error) => this.onConnError(err));
    this.open.add(conn);
    return conn;
  }

  /** A connection interrupted in the middle of a BRPOP cannot be reused: its reply would go astray. */
  releaseBlocking(conn: Redis, reusable: boolean): void {
    if (reusable && !this.closed && this.idle.length < MAX_IDLE_BLOCKING && conn.status === 'ready') {
      this.idle.push(conn);
      return;
    }
    this.open.delete(conn);
    void quit(conn);
  }

  /** SREM the binding first (no reply can be routed here any more), then DEL the lists. */
  cleanup(c: Cleanup): Promise<void> {
    const p = this.doCleanup(c).finally(() => this.cleaning.delete(p));
    this.cleaning.add(p);
    return p;
  }

  private async doCleanup(c: Cleanup): Promise<void> {
    try {
      const cmd = this.command();
      await cmd.srem(this.bindingKey, c.member);
      await cmd.del(...c.keys);
      this.pending.delete(c.member);
      this.scheduleLateSweep(c.keys);
    } catch (err) {
      this.pending.set(c.member, c);
      this.log?.debug({ err: String(err) }, 'remote control cleanup failed; retried before the next call');
    }
  }

  private scheduleLateSweep(keys: string[]): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.lateSweeps.delete(t);
      this.cmd?.del(...keys).catch(() => undefined);
    }, LATE_REPLY_GRACE_MS);
    t.unref();
    this.lateSweeps.set(t, keys);
  }

  private async retryPendingCleanups(): Promise<void> {
    for (const c of [...this.pending.values()]) {
      try {
        const cmd = this.command();
        await cmd.srem(this.bindingKey, c.member);
        await cmd.del(...c.keys);
        this.pending.delete(c.member);
      } catch {
        return; // still unreachable; the call that follows fails and says why
      }
    }
  }

  private replyKeys(queue: string): string[] {
    // kombu `_q_for_pri`: step 0 is the bare name, others get `sep + step`.
    return this.steps.map((s) => (s === 0 ? `${this.prefix}${queue}` : `${this.prefix}${queue}${this.sep}${s}`));
  }

  private command(): Redis {
    if (this.closed && this.cmd === undefined) throw new Error('remote control mailbox is closed');
    if (this.cmd === undefined) {
      this.cmd = new Redis({
        ...redisOptions(this.cfg, 'celery-exporter:control'),
        maxRetriesPerRequest: 1,
        retryStrategy: (times: number) => (this.closed ? null : backoffDelay(times - 1)),
      });
      this.cmd.on('error', (err: Error) => this.onConnError(err));
      this.cmd.on('ready', () => {
        this.lastConnError = undefined;
        if (this.everReady) this.hooks.onReconnect?.();
        this.everReady = true;
      });
      if (this.cfg.url.sentinels.length > 0) {
        // A new master: reconnect the command connection and drop idle reply connections.
        this.watch = new SentinelWatch(this.cfg, () => this.onSwitchMaster(), this.log);
        this.watch.start();
      }
    }
    return this.cmd;
  }

  private onSwitchMaster(): void {
    this.cmd?.disconnect(true);
    for (const c of this.idle.splice(0)) {
      this.open.delete(c);
      c.disconnect();
    }
  }

  private onConnError(err: Error): void {
    this.lastConnError = describeConnectError(err);
    this.log?.debug({ err: err.message }, 'remote control connection error');
  }

  private explain(err: unknown): Error {
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.lastConnError !== undefined && /max retries per request/i.test(e.message)) return new Error(this.lastConnError);
    return e;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('remote control mailbox is closed');
  }
}

async function quit(c: Redis): Promise<void> {
  try {
    if (c.status === 'ready') await Promise.race([c.quit(), new Promise((r) => setTimeout(r, CLOSE_GRACE_MS))]);
  } catch {
    // already closed
  }
  c.disconnect();
}
