import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { BrokerConfig } from '../../config/config.js';
import { decodeAmqpBody } from '../../decoder/body.js';
import { Invalid } from '../../decoder/invalid.js';
import type { Logger } from '../../log.js';
import { abortReason, raceAbort, type Mailbox, type MailboxHooks, type RawReply, type ReplyInbox } from '../../remote/mailbox.js';
import { pidboxNames, replyQueueName, type PidboxNames, type PidboxRequest, type RequestHeaders } from '../../remote/protocol.js';
import { AmqpConnectionHolder } from './pidbox-connection.js';

/** Celery's control_queue_expires / control_queue_ttl, as kombu sends them (ms). */
const REPLY_QUEUE_ARGS = { 'x-expires': 10_000, 'x-message-ttl': 300_000 };

/**
 * The pidbox protocol over AMQP 0-9-1 (docs/protocol.md §5.6): the `celery.pidbox` fanout and the
 * `reply.celery.pidbox` direct exchange with Celery's flags, an exclusive reply queue
 * `<oid>.reply.celery.pidbox` bound with the oid and consumed no-ack, deleted afterwards.
 */
export class AmqpMailbox implements Mailbox {
  readonly kind = 'amqp' as const;
  private readonly holder: AmqpConnectionHolder;
  /** Connections on which the two exchanges are known to exist. */
  private readonly declared = new WeakSet<ChannelModel>();
  private publishChannel: { conn: ChannelModel; ch: Promise<Channel> } | undefined;

  constructor(
    cfg: BrokerConfig,
    private readonly log?: Logger,
    private readonly names: PidboxNames = pidboxNames(),
    hooks: MailboxHooks = {},
  ) {
    this.holder = new AmqpConnectionHolder(
      cfg,
      'celery-exporter:control',
      (err) => this.log?.debug({ err: err.message }, 'remote control connection error'),
      hooks.onReconnect,
    );
  }

  async openInbox(oid: string, signal?: AbortSignal): Promise<ReplyInbox> {
    const conn = await raceAbort(this.holder.get(), signal);
    await raceAbort(this.declareExchanges(conn), signal);
    const ch = await raceAbort(openChannel(conn), signal);
    const queue = replyQueueName(oid, this.names);
    const inbox = new AmqpInbox(conn, ch, queue);
    try {
      await raceAbort(
        (async () => {
          await ch.assertQueue(queue, { exclusive: true, autoDelete: true, durable: false, arguments: REPLY_QUEUE_ARGS });
          await ch.bindQueue(queue, this.names.replyExchange, oid);
          await ch.consume(queue, (m) => inbox.deliver(m), { noAck: true });
        })(),
        signal,
      );
    } catch (err) {
      await inbox.close();
      throw err;
    }
    return inbox;
  }

  async publish(request: PidboxRequest, headers: RequestHeaders, signal?: AbortSignal): Promise<undefined> {
    const conn = await raceAbort(this.holder.get(), signal);
    await raceAbort(this.declareExchanges(conn), signal);
    if (this.publishChannel === undefined || this.publishChannel.conn !== conn) {
      const ch = openChannel(conn);
      const entry = { conn, ch };
      this.publishChannel = entry;
      ch.then(
        (c) => c.on('close', () => {
          if (this.publishChannel === entry) this.publishChannel = undefined;
        }),
        () => {
          if (this.publishChannel === entry) this.publishChannel = undefined;
        },
      );
    }
    const ch = await raceAbort(this.publishChannel.ch, signal);
    ch.publish(this.names.requestExchange, '', Buffer.from(JSON.stringify(request)), {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: amqpRequestHeaders(headers),
      deliveryMode: 2,
      priority: 0,
    });
    return undefined;
  }

  async close(): Promise<void> {
    this.publishChannel = undefined;
    await this.holder.close();
  }

  /**
   * Declares both exchanges with Celery's flags (fanout/direct, non-durable, not auto-delete).
   * A broker holding them with other flags answers 406 and closes the channel; they exist, so
   * that is accepted as declared.
   */
  private async declareExchanges(conn: ChannelModel): Promise<void> {
    if (this.declared.has(conn)) return;
    const ch = await openChannel(conn);
    try {
      await ch.assertExchange(this.names.requestExchange, 'fanout', { durable: false, autoDelete: false });
      await ch.assertExchange(this.names.replyExchange, 'direct', { durable: false, autoDelete: false });
    } catch (err) {
      if ((err as { code?: number }).code !== 406) throw err;
      this.log?.debug({ err: String(err) }, 'pidbox exchanges exist with other flags; using them as they are');
    } finally {
      await ch.close().catch(() => undefined);
    }
    this.declared.add(conn);
  }
}

class AmqpInbox implements ReplyInbox {
  private readonly buffered: RawReply[] = [];
  private waiter: ((r: RawReply | undefined | Error) => void) | undefined;
  private failure: Error | undefined;
  private closed = false;

  constructor(
    private readonly conn: ChannelModel,
    private readonly ch: Channel,
    private readonly queue: string,
  ) {
    ch.on('close', () => this.fail(new Error('remote control channel closed')));
  }

  deliver(m: ConsumeMessage | null): void {
    if (m === null) return this.fail(new Error('reply consumer cancelled by the broker'));
    const reply = unframe(m);
    if (this.waiter !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      w(reply);
    } else {
      this.buffered.push(reply);
    }
  }

  next(idleMs: number, signal?: AbortSignal): Promise<RawReply | undefined> {
    const ready = this.buffered.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const done = (r: RawReply | undefined | Error) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiter = undefined;
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      const onAbort = () => done(abortReason(signal!));
      const timer = setTimeout(() => done(undefined), idleMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = done;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Deleting the queue also drops its binding and consumer; if this channel died, use another.
    try {
      await this.ch.deleteQueue(this.queue);
    } catch {
      try {
        const ch = await openChannel(this.conn);
        await ch.deleteQueue(this.queue);
        await ch.close();
      } catch {
        // connection gone: the queue was exclusive to it and went with it
      }
    }
    await this.ch.close().catch(() => undefined);
  }

  private fail(err: Error): void {
    if (this.closed || this.failure !== undefined) return;
    this.failure = err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.(err);
  }
}

/**
 * The request headers with explicit AMQP field types. Left to itself amqplib sends an integer
 * from 128 to 32767 with the tag `s` (RabbitMQ's signed short), which py-amqp reads as a short
 * *string*: the worker's connection fails to parse the frame and the worker dies
 * ("Unrecoverable error: UnicodeDecodeError"). `I`/`l` and `d` read the same on both sides.
 */
export function amqpRequestHeaders(h: RequestHeaders): Record<string, unknown> {
  const int = (v: number) => ({ '!': v >= -0x80000000 && v < 0x80000000 ? 'int' : 'long', value: v });
  return { clock: int(h.clock), expires: h.expires === 0 ? int(0) : { '!': 'double', value: h.expires } };
}

async function openChannel(conn: ChannelModel): Promise<Channel> {
  const ch = await conn.createChannel();
  // Channel errors also arrive as rejected operations; without a listener they would throw.
  ch.on('error', () => undefined);
  return ch;
}

/** An AMQP reply: plain JSON body, `ticket` in the application headers. */
export function unframe(m: { content: Buffer; properties: { contentType?: unknown; contentEncoding?: unknown; headers?: unknown } }): RawReply {
  const p = m.properties;
  const text = decodeAmqpBody(
    m.content,
    typeof p.contentType === 'string' ? p.contentType : undefined,
    typeof p.contentEncoding === 'string' ? p.contentEncoding : undefined,
  );
  if (text instanceof Invalid) return { invalid: text.reason };
  const h = p.headers;
  const headers = typeof h === 'object' && h !== null ? (h as Record<string, unknown>) : {};
  return { headers, text };
}
