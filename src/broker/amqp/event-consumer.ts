import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { AmqpConfig } from '../../config/amqp-config.js';
import type { BrokerConfig } from '../../config/config.js';
import type { Logger } from '../../log.js';
import { backoffDelay } from '../../util/backoff.js';
import { describeConnectError } from '../connect-errors.js';
import { OutageReporter } from '../outage.js';
import type { EventTransport, TransportHooks } from '../transport.js';
import { installDeliveryReader, type DeliverySink } from './delivery-reader.js';
import { amqpEventBodies, type BodySink } from './event-bodies.js';
import { DurableSubscription } from './durable-subscription.js';
import { consumeRefusal, declareOwnQueue, EVENT_EXCHANGE, EventQueueRefused } from './event-queue.js';
import { amqpConnectOptions, closeQuietly, openConnection, replyCode, type AmqpConnectOptions } from './connect.js';

export { EVENT_EXCHANGE };

/**
 * The broker pushes without limit to a no-ack consumer (RabbitMQ ignores basic.qos there); the
 * prefetch still bounds deliveries on brokers that apply it to no-ack consumers. TCP back-pressure
 * is what really paces us: amqplib handles each frame synchronously.
 */
const PREFETCH = 1000;

/**
 * Celery events over AMQP 0-9-1 (docs/protocol.md §1): our own queue celeryev.<uuid>, exclusive,
 * auto-delete and non-durable, with Celery's x-message-ttl/x-expires, bound to the celeryev topic
 * exchange with "#", consumed with no-ack. Every body goes to the pipeline (event-bodies.ts).
 * With --event-queue-name: a durable queue of that name, consumed with acknowledgements
 * (durable-subscription.ts), so events published while the exporter is away wait for it.
 *
 * One generation number guards each connection: every callback of a connection that was lost or
 * replaced sees a stale generation and does nothing, so a close, an error and a cancelled consumer
 * arriving together schedule exactly one reconnect.
 */
export class AmqpEventConsumer implements EventTransport {
  readonly kind = 'amqp' as const;
  private readonly opts: AmqpConnectOptions;
  private conn: ChannelModel | undefined;
  private generation = 0;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly status: OutageReporter;
  /** Each delivered body, decoded and handed to the pipeline (event-bodies.ts). */
  private readonly deliver: BodySink;
  /** Whether deliveries of the current connection are read by delivery-reader.ts (for tests). */
  fastPath = false;
  /** The queue of the current connection, for tests and logs. */
  queueName: string | undefined;
  private readonly durable: DurableSubscription | undefined;

  constructor(
    cfg: BrokerConfig,
    private readonly amqp: AmqpConfig,
    private readonly hooks: TransportHooks,
    private readonly log: Logger,
  ) {
    this.opts = amqpConnectOptions(cfg.url, amqp, 'celery-exporter:events');
    this.status = new OutageReporter(hooks);
    this.deliver = amqpEventBodies(hooks.pipeline);
    const q = amqp.durableEventQueue;
    this.durable = q === undefined ? undefined : new DurableSubscription(q, hooks.stateSaves, log);
  }

  get ready(): boolean {
    return this.status.ready;
  }

  start(): void {
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.generation++;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const c = this.conn;
    this.conn = undefined;
    this.status.stopping();
    const close = async (conn: ChannelModel) => {
      // A named queue: stop deliveries, save, acknowledge what the save holds, then close.
      await this.durable?.drain();
      await closeQuietly(conn);
    };
    if (c !== undefined) await Promise.race([close(c), new Promise((r) => setTimeout(r, 1000))]);
  }

  private async connect(): Promise<void> {
    this.timer = undefined;
    if (this.stopping) return;
    const gen = this.generation;
    try {
      const conn = await openConnection(this.opts);
      if (gen !== this.generation) return void closeQuietly(conn);
      this.conn = conn;
      conn.on('error', (err: Error) => this.lost(gen, `connection error: ${err.message}`));
      conn.on('close', (err?: Error) => this.lost(gen, err ? `connection closed: ${err.message}` : 'connection closed'));
      conn.on('blocked', (reason: string) => this.log.warn({ reason }, 'RabbitMQ blocked our connection (resource alarm)'));

      await this.ensureExchange(conn);
      const ch = await conn.createChannel();
      ch.on('error', (err: Error) => this.channelError(gen, err));
      // Deferred: when the whole connection goes, its close (which carries the broker's reason) comes next.
      ch.on('close', () => setImmediate(() => this.lost(gen, 'channel closed')));
      const { queue, sink, note: queueNote } = await this.subscribe(conn, ch, gen);
      // Deliveries then skip amqplib's message assembly (delivery-reader.ts); the consumer's
      // callback still gets whatever the front leaves to amqplib, and the broker's cancel.
      const off = installDeliveryReader(conn, ch, sink ?? this.deliver);
      if (off === undefined) this.log.debug('amqplib internals not as expected: events take amqplib\'s message path');
      else ch.on('close', off);
      this.fastPath = off !== undefined;
      if (gen !== this.generation) return;
      this.queueName = queue;
      this.attempt = 0;
      this.status.up(`consuming ${queue}, bound to exchange ${EVENT_EXCHANGE} with "#"${queueNote}`);
    } catch (err) {
      if (err instanceof EventQueueRefused) return this.refused(gen, err);
      this.lost(gen, `connect failed: ${describeConnectError(err)}`);
    }
  }

  /**
   * Declares and consumes the event queue on `ch`: our own celeryev.<uuid> with no-ack, or the
   * named one with acknowledgements (then `sink` is the delivery reader's, which needs the tags).
   */
  private async subscribe(conn: ChannelModel, ch: Channel, gen: number): Promise<{ queue: string; sink?: DeliverySink; note: string }> {
    const durable = this.durable;
    if (durable !== undefined) {
      const name = this.amqp.durableEventQueue!.name;
      const { waiting, sink } = await durable.start(conn, ch, this.deliver, () => this.lost(gen, `consumer of ${name} cancelled by the broker`));
      const max = this.amqp.durableEventQueue!.maxLength;
      // A full queue dropped its oldest events (x-overflow drop-head): an incident, counted like Redis's.
      if (waiting >= max) {
        this.log.warn({ queue: name, waiting, maxLength: max }, `events lost: event queue ${name} reached --event-queue-max-length while no exporter consumed it; its oldest events were dropped`);
        this.hooks.onEventsDropped?.();
      }
      return { queue: name, sink, note: `, ${waiting} event${waiting === 1 ? '' : 's'} waiting` };
    }
    const queue = await declareOwnQueue(ch, this.amqp);
    await ch.prefetch(PREFETCH);
    await ch.consume(
      queue,
      (msg: ConsumeMessage | null) => {
        // null: the broker cancelled the consumer (queue deleted by an operator).
        if (msg === null) return this.lost(gen, `consumer of ${queue} cancelled by the broker`);
        const p = msg.properties;
        this.deliver(msg.content, 0, msg.content.length, p.contentType as string | undefined, p.contentEncoding as string | undefined);
      },
      { noAck: true },
    );
    return { queue, note: '' };
  }

  /** An exclusive consume refused (403) closes the channel too; it says the same as the declare check. */
  private channelError(gen: number, err: Error): void {
    const q = this.amqp.durableEventQueue;
    const refusal = q === undefined ? undefined : consumeRefusal(err, q);
    if (refusal !== undefined) this.refused(gen, refusal);
    else this.lost(gen, `channel error: ${err.message}`);
  }

  /** The named queue cannot be used as configured: not ready, one clear line, counted, retried. */
  private refused(gen: number, err: EventQueueRefused): void {
    this.hooks.onEventQueueRefused?.(err.reason);
    this.lost(gen, err.message);
  }

  /**
   * The celeryev exchange exists once any Celery worker or event receiver ran on the vhost. Check
   * it passively on a throwaway channel (a 404 closes that channel); if it is missing, declare it
   * with Celery's exact flags (topic, durable, not auto-delete), so a worker starting later
   * declares the same thing and nothing conflicts.
   */
  private async ensureExchange(conn: ChannelModel): Promise<void> {
    const probe: Channel = await conn.createChannel();
    probe.on('error', () => undefined);
    try {
      await probe.checkExchange(EVENT_EXCHANGE);
      await closeQuietly(probe);
      return;
    } catch (err) {
      if (replyCode(err) !== 404) throw err;
    }
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await ch.assertExchange(EVENT_EXCHANGE, 'topic', { durable: true, autoDelete: false });
    await closeQuietly(ch);
    this.log.info({ exchange: EVENT_EXCHANGE }, 'declared the celeryev exchange (topic, durable), as Celery does; no worker had declared it yet');
  }

  private lost(gen: number, reason: string): void {
    if (gen !== this.generation || this.stopping) return;
    this.generation++;
    const c = this.conn;
    this.conn = undefined;
    this.queueName = undefined;
    this.durable?.lost();
    void closeQuietly(c);
    this.status.down(reason);
    const delay = backoffDelay(this.attempt++);
    this.log.debug({ attempt: this.attempt, delayMs: delay, err: reason }, 'reconnecting to RabbitMQ');
    this.timer = setTimeout(() => void this.connect(), delay);
  }
}
