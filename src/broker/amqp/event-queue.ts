import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel } from 'amqplib';
import type { AmqpConfig, DurableEventQueue } from '../../config/amqp-config.js';
import { closeQuietly, replyCode } from './connect.js';

/** Celery's event_exchange and event_queue_prefix defaults. */
export const EVENT_EXCHANGE = 'celeryev';
const QUEUE_PREFIX = 'celeryev';

/**
 * Today's queue (no --event-queue-name): celeryev.<uuid>, exclusive, auto-delete, non-durable,
 * with Celery's x-message-ttl/x-expires, bound to celeryev with "#". Declared on `ch`.
 */
export async function declareOwnQueue(ch: Channel, amqp: AmqpConfig): Promise<string> {
  const queue = `${QUEUE_PREFIX}.${randomUUID()}`;
  await ch.assertQueue(queue, {
    exclusive: true,
    autoDelete: true,
    durable: false,
    // kombu sends these as integer milliseconds (docs/protocol.md §1.4).
    arguments: { 'x-message-ttl': Math.round(amqp.eventQueueTtl * 1000), 'x-expires': Math.round(amqp.eventQueueExpires * 1000) },
  });
  await ch.bindQueue(queue, EVENT_EXCHANGE, '#');
  return queue;
}

/** The named queue's arguments; RabbitMQ refuses a declare whose arguments differ from the queue's. */
export function durableQueueArguments(q: DurableEventQueue): Record<string, number | string> {
  const args: Record<string, number | string> = {
    'x-expires': Math.round(q.expires * 1000),
    'x-max-length': q.maxLength,
    'x-overflow': 'drop-head',
  };
  if (q.ttl !== undefined) args['x-message-ttl'] = Math.round(q.ttl * 1000);
  return args;
}

export type RefusalReason = 'arguments' | 'in_use';

/** The named queue cannot be used as configured; the message says what to change. */
export class EventQueueRefused extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}

export interface DurableQueueState {
  /** Events waiting in the queue when we attached (published while no exporter consumed). */
  waiting: number;
}

/**
 * Declares the named queue (durable, not exclusive, not auto-delete) on a channel of its own, so
 * a refusal (which closes the channel) stays away from the consuming one, and binds it. Throws
 * EventQueueRefused when its arguments differ from an existing queue's, or when another consumer
 * is attached and the queue is not shared.
 */
export async function declareDurableQueue(conn: ChannelModel, q: DurableEventQueue): Promise<DurableQueueState> {
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  try {
    let ok: { messageCount: number; consumerCount: number };
    try {
      ok = await ch.assertQueue(q.name, { durable: true, exclusive: false, autoDelete: false, arguments: durableQueueArguments(q) });
    } catch (err) {
      if (replyCode(err) !== 406) throw err;
      throw new EventQueueRefused(
        'arguments',
        `RabbitMQ refused to declare event queue "${q.name}": it exists with other arguments (${brokerText(err)}). ` +
          'Set --event-queue-ttl, --event-queue-expires and --event-queue-max-length to the queue\'s values, or delete the queue (its waiting events go with it)',
      );
    }
    if (ok.consumerCount > 0 && !q.shared) throw inUse(q, `${ok.consumerCount} consumer${ok.consumerCount === 1 ? ' is' : 's are'} attached`);
    await ch.bindQueue(q.name, EVENT_EXCHANGE, '#');
    return { waiting: ok.messageCount };
  } finally {
    await closeQuietly(ch);
  }
}

/**
 * A consume with exclusive: true fails with 403 ACCESS_REFUSED while another consumer is attached
 * (one that came between our declare and our consume): the same refusal.
 */
export function consumeRefusal(err: unknown, q: DurableEventQueue): EventQueueRefused | undefined {
  if (replyCode(err) !== 403 && !/ACCESS_REFUSED[^\n]*exclusive/i.test(String((err as Error | undefined)?.message))) return undefined;
  return inUse(q, q.shared ? 'another exporter consumes it exclusively (started without --event-queue-shared)' : 'another consumer holds it');
}

function inUse(q: DurableEventQueue, detail: string): EventQueueRefused {
  return new EventQueueRefused(
    'in_use',
    `event queue "${q.name}" is in use: ${detail}. Two exporters on one queue would split the events between them; ` +
      'give each exporter its own --event-queue-name, or pass --event-queue-shared if the other consumer is meant to be there. ' +
      'Retrying (a previous exporter\'s connection goes once RabbitMQ notices it is dead, after two missed heartbeats)',
  );
}

/** RabbitMQ's reply text (e.g. "inequivalent arg 'x-max-length' …"), without amqplib's wrapping. */
function brokerText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const m = /PRECONDITION_FAILED - ([^"]+)/.exec(msg);
  return m?.[1]?.trim() ?? msg;
}
