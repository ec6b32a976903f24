import { readFileSync } from 'node:fs';
import type { Config } from '../../config/config.js';
import type { Core } from '../../core.js';
import { RateLimitedLog, type Logger } from '../../log.js';
import type { PollerSchedule } from '../../pollers/poller.js';
import { amqpConnectOptions, brokerLabel } from './connect.js';
import { ManagementClient } from './management-client.js';
import { ManagementPoller } from './management-poller.js';
import { AmqpQueuePoller } from './queue-poller.js';

/**
 * The RabbitMQ pollers: with --rabbitmq-management-url the management API (every queue of the
 * vhost, unacked counts, broker health), else passive declares over AMQP (known queues only).
 */
export function amqpPollers(cfg: Config, core: Core, log: Logger): PollerSchedule[] {
  const timing = {
    intervalMs: cfg.queues.pollInterval * 1000,
    timeoutMs: cfg.queues.pollTimeout * 1000,
    minIntervalMs: cfg.queues.minPollInterval > 0 ? cfg.queues.minPollInterval * 1000 : undefined,
  };
  const url = cfg.broker.url;
  const mgmt = cfg.amqp.management;
  if (mgmt !== undefined) {
    const caPath = url.query['ssl_ca_certs'];
    const ca = mgmt.baseUrl.startsWith('https:') && caPath ? readFileSync(caPath) : undefined;
    const poller = new ManagementPoller(
      new ManagementClient(mgmt, ca),
      url.vhost,
      brokerLabel(url),
      core.queues,
      core.queueMetrics,
      core.brokerMetrics,
      new RateLimitedLog(log),
    );
    return [{ poller, ...timing }];
  }
  const reconnects = core.self.reconnects.labels('queues');
  const poller = new AmqpQueuePoller(
    amqpConnectOptions(url, cfg.amqp, 'celery-exporter:queues'),
    core.queues,
    core.queueMetrics,
    () => reconnects.inc(),
    log,
  );
  return [{ poller, ...timing }];
}
