import { Gauge } from './gauge.js';
import type { MetricRegistry } from './registry.js';

/**
 * Broker-side queue gauges, filled by the queue pollers (Redis and AMQP). Values are what the
 * last successful poll read; a queue whose poll failed has no series rather than a wrong one.
 */
export class QueueMetrics {
  readonly length: Gauge;
  readonly lengthByPriority: Gauge;
  readonly consumers: Gauge;
  readonly unacked: Gauge;
  readonly unackedOldestAge: Gauge;

  constructor(reg: MetricRegistry) {
    const q = ['queue_name'];
    this.length = reg.register(
      new Gauge({ name: 'celery_queue_length', help: 'Messages waiting in the broker queue (all priorities; not counting messages reserved by workers).', labelNames: q }),
    );
    this.lengthByPriority = reg.register(
      new Gauge({
        name: 'celery_queue_length_by_priority',
        help: 'Messages waiting in the broker queue by priority level (Redis priority sub-queues).',
        labelNames: ['queue_name', 'priority'],
      }),
    );
    this.consumers = reg.register(
      new Gauge({ name: 'celery_active_consumer_count', help: 'Consumers attached to the broker queue (RabbitMQ).', labelNames: q }),
    );
    this.unacked = reg.register(
      new Gauge({ name: 'celery_queue_unacked', help: 'Messages delivered to workers and not yet acknowledged (reserved, prefetched, ETA).', labelNames: q }),
    );
    this.unackedOldestAge = reg.register(
      new Gauge({
        name: 'celery_queue_unacked_oldest_age_seconds',
        help: 'Age of the oldest unacknowledged message of the queue (Redis unacked_index).',
        labelNames: q,
      }),
    );
  }

  /** Removes every series of a queue (it disappeared, or its poll failed). */
  removeQueue(queue: string): void {
    for (const g of [this.length, this.lengthByPriority, this.consumers, this.unacked, this.unackedOldestAge]) {
      g.removeWhere('queue_name', queue);
    }
  }
}
