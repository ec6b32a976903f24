import type { Channel, ChannelModel } from 'amqplib';
import type { Logger } from '../../log.js';
import type { QueueMetrics } from '../../metrics/queue-metrics.js';
import type { Collector } from '../../pollers/collector.js';
import type { QueueRegistry } from '../../state/queue-registry.js';
import { describeConnectError } from '../connect-errors.js';
import { RetryGate } from '../retry-gate.js';
import { closeQuietly, openConnection, replyCode, type AmqpConnectOptions } from './connect.js';

export interface QueueDepth {
  messageCount: number;
  consumerCount: number;
}

/** AMQP short strings: a longer name cannot exist on the broker, so it is not asked for. */
const MAX_QUEUE_NAME_BYTES = 255;

/**
 * Queue depth over plain AMQP: a passive queue.declare per known queue gives `message_count`
 * (ready messages: not those delivered and unacknowledged) and `consumer_count`. A queue that
 * does not exist answers 404 and the broker closes the channel, so the checks run on a channel
 * of their own, replaced after each 404; the missing queue gets no series and the round goes on.
 * The connection is kept between rounds and re-opened (counted as a reconnect) after a loss.
 */
export class AmqpQueuePoller implements Collector {
  readonly name = 'amqp_queues';
  private conn: ChannelModel | undefined;
  private channel: Channel | undefined;
  private everConnected = false;
  /** Queues that have series now, so a queue that vanished loses them. */
  private reported = new Set<string>();
  private readonly warnedMissing = new Set<string>();
  /** Backoff between connection attempts, however short the poll interval. */
  private readonly gate = new RetryGate();

  constructor(
    private readonly opts: AmqpConnectOptions,
    private readonly queues: QueueRegistry,
    private readonly metrics: QueueMetrics,
    private readonly onReconnect: () => void,
    private readonly log: Logger,
  ) {}

  async collect(signal: AbortSignal): Promise<void> {
    const depths = await this.read(signal);
    for (const [queue, r] of depths) {
      this.metrics.length.labels(queue).set(r.messageCount);
      this.metrics.consumers.labels(queue).set(r.consumerCount);
    }
    for (const q of this.reported) if (!depths.has(q)) this.metrics.removeQueue(q);
    this.reported = new Set(depths.keys());
  }

  /** Ready messages and consumers of every known queue that exists, without writing metrics. */
  async read(signal: AbortSignal): Promise<Map<string, QueueDepth>> {
    const conn = await this.connection(signal);
    const depths = new Map<string, QueueDepth>();
    for (const queue of this.queues.list()) {
      signal.throwIfAborted();
      const r = await this.check(conn, queue);
      if (r === undefined) {
        this.missing(queue);
        continue;
      }
      this.warnedMissing.delete(queue);
      depths.set(queue, { messageCount: r.messageCount, consumerCount: r.consumerCount });
    }
    return depths;
  }

  onFailure(): void {
    for (const q of this.reported) this.metrics.removeQueue(q);
    this.reported = new Set();
    this.reset();
  }

  /** Drops the connection, so the next round starts on a fresh one. */
  reset(): void {
    // A timed-out round may have left a half-answered channel or a dead connection behind.
    const c = this.conn;
    this.conn = undefined;
    this.channel = undefined;
    void closeQuietly(c);
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    this.channel = undefined;
    await closeQuietly(c);
  }

  private async connection(signal: AbortSignal): Promise<ChannelModel> {
    if (this.conn !== undefined) return this.conn;
    this.gate.check();
    let conn: ChannelModel;
    try {
      conn = await openConnection(this.opts, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      const e = new Error(`cannot connect to RabbitMQ: ${describeConnectError(err)}`);
      this.gate.failed(e);
      throw e;
    }
    this.gate.succeeded();
    conn.on('error', () => undefined); // followed by 'close'
    conn.on('close', () => {
      if (this.conn === conn) {
        this.conn = undefined;
        this.channel = undefined;
      }
    });
    this.conn = conn;
    if (this.everConnected) this.onReconnect();
    this.everConnected = true;
    return conn;
  }

  private async check(conn: ChannelModel, queue: string): Promise<{ messageCount: number; consumerCount: number } | undefined> {
    if (Buffer.byteLength(queue) > MAX_QUEUE_NAME_BYTES) return undefined;
    let ch = this.channel;
    if (ch === undefined) {
      ch = await conn.createChannel();
      ch.on('error', () => undefined); // the 404 also rejects checkQueue, handled below
      const mine = ch;
      ch.on('close', () => {
        if (this.channel === mine) this.channel = undefined;
      });
      this.channel = ch;
    }
    try {
      return await ch.checkQueue(queue);
    } catch (err) {
      if (this.channel === ch) this.channel = undefined;
      if (replyCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** Said once per queue until it appears: usually a typo in --queues, or a queue not declared yet. */
  private missing(queue: string): void {
    if (this.warnedMissing.has(queue) || this.warnedMissing.size >= 1000) return;
    this.warnedMissing.add(queue);
    this.log.info({ queue }, 'queue does not exist on the broker; it has no queue series until it does');
  }
}
