import { readFileSync } from 'node:fs';
import type { Config } from '../../config/config.js';
import { RateLimitedLog, type Logger } from '../../log.js';
import type { ExporterMetrics } from '../../metrics/exporter-metrics.js';
import { Gauge } from '../../metrics/gauge.js';
import type { PollerSchedule } from '../../pollers/poller.js';
import type { EventState } from '../../state/event-state.js';
import { amqpConnectOptions, brokerLabel } from './connect.js';
import { ManagementClient } from './management-client.js';
import { ManagementPoller } from './management-poller.js';
import { AmqpQueuePoller } from './queue-poller.js';

/**
 * The RabbitMQ pollers: passive declares over AMQP (exact depth of the known queues), and with
 * --rabbitmq-management-url the management API beside them (every queue of the vhost, unacked
 * counts, broker health; the declares alone while it does not answer).
 */
export function amqpPollers(
  cfg: Config,
  { metrics, state }: { metrics: Pick<ExporterMetrics, 'registry' | 'self' | 'queues' | 'broker'>; state: Pick<EventState, 'queues'> },
  log: Logger,
): PollerSchedule[] {
  const timing = {
    intervalMs: cfg.queues.pollInterval * 1000,
    timeoutMs: cfg.queues.pollTimeout * 1000,
    minIntervalMs: cfg.queues.minPollInterval > 0 ? cfg.queues.minPollInterval * 1000 : undefined,
  };
  const url = cfg.broker.url;
  const mgmt = cfg.amqp.management;
  const reconnects = metrics.self.reconnects.labels('queues');
  const declares = new AmqpQueuePoller(
    amqpConnectOptions(url, cfg.amqp, 'celery-exporter:queues'),
    state.queues,
    metrics.queues,
    () => reconnects.inc(),
    log,
  );
  if (mgmt !== undefined) {
    const caPath = url.query['ssl_ca_certs'];
    const ca = mgmt.baseUrl.startsWith('https:') && caPath ? readFileSync(caPath) : undefined;
    const apiUp = metrics.registry.register(
      new Gauge({
        name: 'celery_exporter_rabbitmq_management_up',
        help: 'Whether the last queue round could read the RabbitMQ management API (0: queue depth of the known queues from passive queue.declare only).',
      }),
    );
    const poller = new ManagementPoller(
      new ManagementClient(mgmt, ca),
      url.vhost,
      brokerLabel(url),
      state.queues,
      metrics.queues,
      metrics.broker,
      new RateLimitedLog(log),
      { poller: declares, log, apiUp: apiUp.labels() },
    );
    return [{ poller, ...timing }];
  }
  return [{ poller: declares, ...timing }];
}
