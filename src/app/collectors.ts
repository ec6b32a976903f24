import { readFileSync } from 'node:fs';
import { amqpConnectOptions, brokerLabel } from '../broker/amqp/connect.js';
import { ManagementClient } from '../broker/amqp/management-client.js';
import { ManagementPoller } from '../broker/amqp/management-poller.js';
import { AmqpQueuePoller } from '../broker/amqp/queue-poller.js';
import { createMailbox } from '../broker/mailbox.js';
import { RedisQueuePoller } from '../broker/redis/queue-poller.js';
import type { Config } from '../config/config.js';
import type { EventPath } from './event-path.js';
import { RateLimitedLog, type Logger } from '../log.js';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';
import type { Counter } from '../metrics/counter.js';
import { Gauge } from '../metrics/gauge.js';
import type { ControlSelfMetrics, InspectMetrics } from '../metrics/inspect-metrics.js';
import type { QueueMetrics } from '../metrics/queue-metrics.js';
import type { MetricRegistry } from '../metrics/registry.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import type { CollectorSchedule } from '../pollers/collector.js';
import { RemoteControl } from '../remote/client.js';
import { EnableEventsOnSight } from '../remote/enable-events-on-sight.js';
import { EnableEventsPoller } from '../remote/enable-events-poller.js';
import { InspectPoller, type InspectPollerOptions } from '../remote/inspect-poller.js';
import type { Mailbox } from '../remote/mailbox.js';
import { LabelPolicy } from '../state/labels.js';
import type { QueueRegistry } from '../state/queue-registry.js';
import type { WorkerState } from '../state/worker-state.js';

/**
 * The collector table: every background collector, when it is on, and how it is built. It is
 * wiring (it picks broker adapters and remote-control collectors), so it sits with daemon.ts in the wiring layer
 * and not in src/pollers/, which src/broker/ and src/remote/ import for the Collector contract.
 */

/** What the collectors read and write: the parts of the exporter they use, nothing more. */
export interface CollectorDeps {
  queues: QueueRegistry;
  queueMetrics: QueueMetrics;
  brokerMetrics: BrokerMetrics;
  inspectMetrics: InspectMetrics;
  workerMetrics: WorkerMetrics;
  controlMetrics: ControlSelfMetrics;
  workers: WorkerState;
  /** celery_exporter_reconnects_total, by component ("queues", "control"). */
  reconnects: Counter;
  /** For a family only one collector writes (celery_exporter_rabbitmq_management_up), and the inspect collector's scrape step. */
  registry: MetricRegistry;
  /** Removes every series of a worker the inspect collector found gone. */
  purgeHostname(hostname: string): void;
  /** Subscribes `listener` to "a worker was first seen" (worker-online, or back after being down). */
  onWorkerSeen(listener: (node: string) => void): void;
  /** A remote-control mailbox already open (continuity's), shared; else one is created. */
  mailbox?: Mailbox;
}

/** What a row's build receives. The remote-control client and its log are shared by the rows. */
interface BuildContext {
  cfg: Config;
  deps: CollectorDeps;
  log: Logger;
  /** One client (one mailbox: one set of connections) for every remote-control collector. */
  remoteControl(): RemoteControl;
  remoteLog: RateLimitedLog;
}

interface CollectorRow {
  /** The collector's `poller` label. */
  name: string;
  on(cfg: Config): boolean;
  build(ctx: BuildContext): CollectorSchedule;
}

/** The queue collectors' timing: on demand at scrape time too (minIntervalMs), see src/pollers/scheduler.ts. */
function queueTiming(cfg: Config): Omit<CollectorSchedule, 'collector'> {
  return {
    intervalMs: cfg.queues.pollInterval * 1000,
    timeoutMs: cfg.queues.pollTimeout * 1000,
    minIntervalMs: cfg.queues.minPollInterval > 0 ? cfg.queues.minPollInterval * 1000 : undefined,
  };
}

/** Exact depths of the known queues by passive queue.declare, on its own AMQP connection. */
function amqpDeclares({ cfg, deps, log }: BuildContext): AmqpQueuePoller {
  const reconnects = deps.reconnects.labels('queues');
  const options = amqpConnectOptions(cfg.broker.url, cfg.amqp, 'celery-exporter:queues');
  return new AmqpQueuePoller(options, deps.queues, deps.queueMetrics, () => reconnects.inc(), log);
}

/** In the order they are built and first run (the order the daemon always had). */
export const COLLECTORS: readonly CollectorRow[] = [
  {
    name: 'redis_queues',
    on: (cfg) => cfg.broker.url.transport === 'redis',
    build({ cfg, deps, log }) {
      deps.reconnects.labels('queues');
      const collector = new RedisQueuePoller(
        cfg.broker,
        {
          queues: deps.queues,
          queueMetrics: deps.queueMetrics,
          brokerMetrics: deps.brokerMetrics,
          onReconnect: () => deps.reconnects.labels('queues').inc(),
        },
        { discoveryIntervalMs: cfg.queues.discoveryInterval * 1000, forgetAfterMs: cfg.queues.forgetAfter * 1000 },
        log,
      );
      return { collector, ...queueTiming(cfg) };
    },
  },
  {
    name: 'amqp_queues',
    on: (cfg) => cfg.broker.url.transport === 'amqp' && cfg.amqp.management === undefined,
    build: (ctx) => ({ collector: amqpDeclares(ctx), ...queueTiming(ctx.cfg) }),
  },
  {
    // The management API for discovery, unacked counts and broker health, beside the declares
    // (their depths win; the API's only for a round whose declares failed).
    name: 'rabbitmq_management',
    on: (cfg) => cfg.broker.url.transport === 'amqp' && cfg.amqp.management !== undefined,
    build(ctx) {
      const { cfg, deps, log } = ctx;
      const url = cfg.broker.url;
      const mgmt = cfg.amqp.management!;
      const declares = amqpDeclares(ctx);
      const caPath = url.query['ssl_ca_certs'];
      const ca = mgmt.baseUrl.startsWith('https:') && caPath ? readFileSync(caPath) : undefined;
      const apiUp = deps.registry.register(
        new Gauge({
          name: 'celery_exporter_rabbitmq_management_up',
          help: 'Whether the last queue round could read the RabbitMQ management API (0: queue depth of the known queues from passive queue.declare only).',
        }),
      );
      const collector = new ManagementPoller(
        new ManagementClient(mgmt, ca),
        url.vhost,
        brokerLabel(url),
        deps.queues,
        deps.queueMetrics,
        deps.brokerMetrics,
        new RateLimitedLog(log),
        { poller: declares, log, apiUp: apiUp.labels() },
      );
      return { collector, ...queueTiming(cfg) };
    },
  },
  {
    name: 'inspect',
    on: (cfg) => cfg.remoteControl.inspect,
    build({ cfg, deps, remoteControl, remoteLog }) {
      const rcfg = cfg.remoteControl;
      const labels = new LabelPolicy({ stripHostnamePrefix: cfg.workers.stripHostnamePrefix, maxLength: cfg.metrics.maxLabelLength });
      const opts = { replyTimeoutMs: rcfg.replyTimeout * 1000, purgeAfterMs: cfg.workers.purgeAfter * 1000 };
      const collector = inspectPollerFor(deps, remoteControl(), labels, remoteLog, opts);
      return { collector, intervalMs: rcfg.pollInterval * 1000, timeoutMs: rcfg.pollTimeout * 1000 };
    },
  },
  {
    // The periodic broadcast; its on-sight sender (each worker when first seen) shares its counters.
    name: 'enable_events',
    on: (cfg) => cfg.remoteControl.enableEvents,
    build({ cfg, deps, log, remoteControl, remoteLog }) {
      const rcfg = cfg.remoteControl;
      const replyTimeoutMs = rcfg.replyTimeout * 1000;
      log.info(
        { intervalSeconds: rcfg.enableEventsInterval },
        'broadcasting enable_events to the workers now, periodically, and to each worker when it comes online, so workers started without -E send task events (--no-enable-events turns this off)',
      );
      const rc = remoteControl();
      const broadcasts = deps.controlMetrics.enableEventsBroadcasts.labels();
      const onSight = new EnableEventsOnSight(rc, deps.controlMetrics.enableEventsOnSight, log, { replyTimeoutMs });
      deps.onWorkerSeen((node) => onSight.workerSeen(node));
      const collector = new EnableEventsPoller(rc, broadcasts, replyTimeoutMs, log, remoteLog, onSight);
      return { collector, intervalMs: rcfg.enableEventsInterval * 1000, timeoutMs: rcfg.pollTimeout * 1000 };
    },
  },
];

/** The collectors' narrow view of the metrics and the event state (see src/app/collectors.ts). */
export function collectorDeps({ metrics, state }: Pick<EventPath, 'metrics' | 'state'>, mailbox?: Mailbox): CollectorDeps {
  return {
    queues: state.queues,
    queueMetrics: metrics.queues,
    brokerMetrics: metrics.broker,
    inspectMetrics: metrics.inspect,
    workerMetrics: metrics.workers,
    controlMetrics: metrics.control,
    workers: state.workers,
    reconnects: metrics.self.reconnects,
    registry: metrics.registry,
    purgeHostname: (h) => state.purgeHostname(h),
    onWorkerSeen: (listener) => state.onWorkerSeen(listener),
    mailbox,
  };
}

/** The collectors this configuration turns on, built in table order. */
export function buildCollectors(cfg: Config, deps: CollectorDeps, log: Logger): CollectorSchedule[] {
  let rc: RemoteControl | undefined;
  const remoteControl = (): RemoteControl => {
    if (rc !== undefined) return rc;
    // Its connections' recoveries count as celery_exporter_reconnects_total{component="control"}.
    const reconnects = deps.reconnects.labels('control');
    const mailbox = deps.mailbox ?? createMailbox(cfg.broker, log, { onReconnect: () => reconnects.inc() });
    return (rc = new RemoteControl(mailbox, { onInvalidReply: (reason) => deps.controlMetrics.invalidReplies.labels(reason).inc() }));
  };
  const ctx: BuildContext = { cfg, deps, log, remoteControl, remoteLog: new RateLimitedLog(log) };
  return COLLECTORS.filter((row) => row.on(cfg)).map((row) => row.build(ctx));
}

/** An inspect collector writing to the given families and reading the worker and queue state. */
export function inspectPollerFor(
  deps: Pick<CollectorDeps, 'inspectMetrics' | 'workerMetrics' | 'registry' | 'workers' | 'queues' | 'purgeHostname'>,
  rc: RemoteControl,
  labels: LabelPolicy,
  log: RateLimitedLog,
  opts: InspectPollerOptions,
  now?: () => number,
): InspectPoller {
  const poller = new InspectPoller(
    {
      rc,
      metrics: deps.inspectMetrics,
      workerMetrics: deps.workerMetrics,
      workers: deps.workers,
      queues: deps.queues,
      labels,
      purgeHostname: (h) => deps.purgeHostname(h),
      log,
    },
    opts,
    now,
  );
  deps.registry.beforeRender(() => poller.updateUtilization());
  return poller;
}
