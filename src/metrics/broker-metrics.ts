import { Counter } from './counter.js';
import { Gauge } from './gauge.js';
import type { MetricRegistry } from './registry.js';

/**
 * A small broker health view (what Flower's Broker tab shows), filled by the broker pollers:
 * Redis INFO, or the RabbitMQ management API overview. `broker` is host:port (plus /vhost on
 * RabbitMQ), never credentials. Operators who need more run redis_exporter or RabbitMQ's own
 * Prometheus plugin.
 */
export class BrokerMetrics {
  readonly connectedClients: Gauge;
  readonly memoryUsed: Gauge;
  readonly uptime: Gauge;
  readonly evictedKeys: Counter;
  readonly messagesReady: Gauge;
  readonly messagesUnacked: Gauge;
  readonly messagesPublished: Counter;
  readonly messagesDelivered: Counter;

  constructor(reg: MetricRegistry) {
    const b = ['broker'];
    this.connectedClients = reg.register(
      new Gauge({ name: 'celery_broker_connected_clients', help: 'Client connections open on the broker (Redis connected_clients, RabbitMQ connections).', labelNames: b }),
    );
    this.memoryUsed = reg.register(
      new Gauge({ name: 'celery_broker_memory_used_bytes', help: 'Memory used by the broker (Redis used_memory, RabbitMQ node mem_used).', labelNames: b }),
    );
    this.uptime = reg.register(new Gauge({ name: 'celery_broker_uptime_seconds', help: 'Broker uptime.', labelNames: b }));
    this.evictedKeys = reg.register(
      new Counter({ name: 'celery_broker_evicted_keys_total', help: 'Keys Redis evicted under maxmemory (Redis INFO evicted_keys). Evicted queue keys are lost tasks.', labelNames: b }),
    );
    this.messagesReady = reg.register(
      new Gauge({ name: 'celery_broker_messages_ready', help: 'Messages ready for delivery across the vhost (RabbitMQ overview).', labelNames: b }),
    );
    this.messagesUnacked = reg.register(
      new Gauge({ name: 'celery_broker_messages_unacked', help: 'Messages delivered and not yet acknowledged across the vhost (RabbitMQ overview).', labelNames: b }),
    );
    this.messagesPublished = reg.register(
      new Counter({ name: 'celery_broker_messages_published_total', help: 'Messages published to the broker (RabbitMQ overview message_stats.publish).', labelNames: b }),
    );
    this.messagesDelivered = reg.register(
      new Counter({ name: 'celery_broker_messages_delivered_total', help: 'Messages delivered to consumers (RabbitMQ overview message_stats.deliver_get).', labelNames: b }),
    );
  }

  /** Drops every series of a broker (its poll failed: no stale values). */
  removeBroker(broker: string): void {
    for (const f of [
      this.connectedClients,
      this.memoryUsed,
      this.uptime,
      this.evictedKeys,
      this.messagesReady,
      this.messagesUnacked,
      this.messagesPublished,
      this.messagesDelivered,
    ]) {
      f.removeWhere('broker', broker);
    }
  }
}
