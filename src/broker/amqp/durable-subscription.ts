import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { DurableEventQueue } from '../../config/amqp-config.js';
import type { Logger } from '../../log.js';
import type { StateSaves } from '../transport.js';
import { AckWindow } from './acks.js';
import { directAcker, type DeliverySink } from './delivery-reader.js';
import type { BodySink } from './event-bodies.js';
import { consumeRefusal, declareDurableQueue } from './event-queue.js';

/**
 * Unacknowledged deliveries RabbitMQ sends ahead (basic.qos). With --state-file they are
 * acknowledged only after a save, and a save is asked for once half of them are pending, at most
 * every 250 ms (persister.ts): so the window caps the rate at (prefetch / 2) per 250 ms. Measured
 * draining 100,000 waiting events (one task-succeeded per message, 2 loaded cores): prefetch 1,000
 * → 3,400 events/s (123 saves), 2,000 → 6,700/s, 10,000 → 11,400/s (17 saves of 25 ms), where
 * the cap no longer binds (without a state file, acking each socket read: 7,000/s).
 */
export const DURABLE_PREFETCH = 10_000;
const SAVE_AT = DURABLE_PREFETCH / 2;

/**
 * Consuming a named event queue (--event-queue-name) with manual acknowledgements (acks.ts):
 * with a state file, acknowledged after each save; without, after each read of the socket.
 */
export class DurableSubscription {
  readonly acks = new AckWindow();
  private channel: Channel | undefined;
  private consumerTag: string | undefined;
  private saveAsked = false;
  private ackQueued = false;

  constructor(
    private readonly queue: DurableEventQueue,
    private readonly saves: StateSaves | undefined,
    private readonly log: Logger,
  ) {
    saves?.onSaved(() => {
      this.saveAsked = false;
      this.acks.settle();
    });
  }

  /**
   * Declares and binds the queue, then consumes it on `ch`. Returns how many events were waiting
   * and the sink for the delivery reader. Throws EventQueueRefused (see event-queue.ts).
   */
  async start(conn: ChannelModel, ch: Channel, deliver: BodySink, onCancel: () => void): Promise<{ waiting: number; sink: DeliverySink }> {
    const q = this.queue;
    const { waiting } = await declareDurableQueue(conn, q);
    await ch.prefetch(DURABLE_PREFETCH);
    this.acks.attach(directAcker(conn, ch) ?? ((tag) => ch.ack({ fields: { deliveryTag: tag } } as ConsumeMessage, true)));
    const sink: DeliverySink = (buf, start, end, type, encoding, tag, redelivered) => {
      if (this.acks.delivered(tag, redelivered)) deliver(buf, start, end, type, encoding);
      this.afterDelivery();
    };
    try {
      const ok = await ch.consume(
        q.name,
        (msg: ConsumeMessage | null) => {
          if (msg === null) return onCancel();
          const p = msg.properties;
          sink(msg.content, 0, msg.content.length, p.contentType as string | undefined, p.contentEncoding as string | undefined, msg.fields.deliveryTag, msg.fields.redelivered);
        },
        // Exclusive unless shared: RabbitMQ itself then keeps a second exporter off the queue.
        { noAck: false, exclusive: !q.shared },
      );
      this.channel = ch;
      this.consumerTag = ok.consumerTag;
    } catch (err) {
      throw consumeRefusal(err, q) ?? err;
    }
    return { waiting, sink };
  }

  private afterDelivery(): void {
    if (this.saves !== undefined) {
      if (!this.saveAsked && this.acks.pending >= SAVE_AT) {
        this.saveAsked = true;
        this.saves.requestSave();
      }
      return;
    }
    // No state file: acknowledge what was processed, one frame per read of the socket.
    if (this.ackQueued) return;
    this.ackQueued = true;
    setImmediate(() => {
      this.ackQueued = false;
      this.acks.settle();
    });
  }

  /** The channel is gone: its unacknowledged deliveries come back first on the next one. */
  lost(): void {
    this.channel = undefined;
    this.consumerTag = undefined;
    this.saveAsked = false;
    const unacked = this.acks.detach();
    if (unacked > 0) this.log.info({ unacked }, 'event queue: deliveries counted but not acknowledged will be redelivered; they are skipped when they come back');
  }

  /**
   * Before the connection closes at shutdown: stop deliveries (every delivery before basic.cancel-ok
   * has been processed when it arrives), save, acknowledge what the save holds. A failed save
   * acknowledges nothing: the next start counts those events again, from a file that lacks them.
   */
  async drain(): Promise<void> {
    const ch = this.channel;
    const tag = this.consumerTag;
    if (ch === undefined || tag === undefined) return;
    try {
      await ch.cancel(tag);
    } catch {
      return; // the channel is gone: nothing can be acknowledged on it any more
    }
    if (this.saves === undefined) this.acks.settle();
    else if (!this.saves.saveNow()) this.log.warn('event queue: the state file could not be saved at shutdown; the events since the last save stay unacknowledged and are counted at the next start');
  }
}
