import { readFileSync } from 'node:fs';
import type { Config } from '../../config/config.js';
import type { Core } from '../../core.js';
import { RateLimitedLog, type Logger } from '../../log.js';
import { Gauge } from '../../metrics/gauge.js';
import type { CollectorSchedule } from '../../pollers/collector.js';
import { amqpConnectOptions, brokerLabel } from './connect.js';
import { ManagementClient } from './management-client.js';
import { ManagementPoller } from './management-poller.js';
import { AmqpQueuePoller } from './queue-poller.js';

/**
 * The RabbitMQ pollers: passive declares over AMQP (exact depth of the known queues), and with
 * --rabbitmq-management-url the management API beside them (every queue of the vhost, unacked
 * counts, broker health; the declares alone while it does not answer).
 */
export function amqpPollers(cfg: Config, core: Core, log: Logger): CollectorSchedule[] {
  const timing = {
    intervalMs: cfg.queues.pollInterval * 1000,
    timeoutMs: cfg.queues.pollTimeout * 1000,
    minIntervalMs: cfg.queues.minPollInterval > 0 ? cfg.queues.minPollInterval * 1000 : undefined,
  };
  const url = cfg.broker.url;
  const mgmt = cfg.amqp.management;
  const reconnects = core.self.reconnects.labels('queues');
  const declares = new AmqpQueuePoller(
    amqpConnectOptions(url, cfg.amqp, 'celery-exporter:queues'),
    core.queues,
    core.queueMetrics,
    () => reconnects.inc(),
    log,
  );
  if (mgmt !== undefined) {
    const caPath = url.query['ssl_ca_certs'];
    const ca = mgmt.baseUrl.startsWith('https:') && caPath ? readFileSync(caPath) : undefined;
    const apiUp = core.registry.register(
      new Gauge({
        name: 'celery_exporter_rabbitmq_management_up',
        help: 'Whether the last queue round could read the RabbitMQ management API (0: queue depth of the known queues from passive queue.declare only).',
      }),
    );
    const poller = new ManagementPoller(
      new ManagementClient(mgmt, ca),
      url.vhost,
      brokerLabel(url),
      core.queues,
      core.queueMetrics,
      core.brokerMetrics,
      new RateLimitedLog(log),
      { poller: declares, log, apiUp: apiUp.labels() },
    );
    return [{ collector: poller, ...timing }];
  }
  return [{ collector: declares, ...timing }];
}
