import { createMailbox } from '../broker/mailbox.js';
import type { Config } from '../config/config.js';
import { RateLimitedLog, type Logger } from '../log.js';
import type { ExporterMetrics } from '../metrics/exporter-metrics.js';
import type { PollerSchedule } from '../pollers/poller.js';
import type { EventState } from '../state/event-state.js';
import { LabelPolicy } from '../state/labels.js';
import { RemoteControl } from './client.js';
import { EnableEventsOnSight } from './enable-events-on-sight.js';
import { EnableEventsPoller } from './enable-events-poller.js';
import { InspectPoller, type InspectPollerOptions } from './inspect-poller.js';
import type { Mailbox } from './mailbox.js';

/** The metric families and state the inspect poller reads and writes. */
export interface InspectParts {
  readonly metrics: Pick<ExporterMetrics, 'registry' | 'inspect' | 'workers'>;
  readonly state: Pick<EventState, 'workers' | 'queues' | 'purgeHostname'>;
}

/** What the remote-control pollers read and write. */
export interface RemoteControlParts extends InspectParts {
  readonly metrics: InspectParts['metrics'] & Pick<ExporterMetrics, 'self' | 'control'>;
  readonly state: InspectParts['state'] & Pick<EventState, 'onWorkerSeen'>;
}

/** The remote-control pollers the configuration asks for, sharing one mailbox (connections). */
export function remoteControlPollers(cfg: Config, parts: RemoteControlParts, log: Logger, mailbox?: Mailbox): PollerSchedule[] {
  const { metrics, state } = parts;
  const rcfg = cfg.remoteControl;
  if (!rcfg.inspect && !rcfg.enableEvents) return [];
  // Its connections' recoveries count as celery_exporter_reconnects_total{component="control"}.
  const reconnects = metrics.self.reconnects.labels('control');
  const rc = new RemoteControl(mailbox ?? createMailbox(cfg.broker, log, { onReconnect: () => reconnects.inc() }), {
    onInvalidReply: (reason) => metrics.control.invalidReplies.labels(reason).inc(),
  });
  const rateLimited = new RateLimitedLog(log);
  const replyTimeoutMs = rcfg.replyTimeout * 1000;
  const timeoutMs = rcfg.pollTimeout * 1000;
  const out: PollerSchedule[] = [];
  if (rcfg.inspect) {
    const labels = new LabelPolicy({ stripHostnamePrefix: cfg.workers.stripHostnamePrefix, maxLength: cfg.metrics.maxLabelLength });
    const poller = inspectPollerFor(parts, rc, labels, rateLimited, { replyTimeoutMs, purgeAfterMs: cfg.workers.purgeAfter * 1000 });
    out.push({ poller, intervalMs: rcfg.pollInterval * 1000, timeoutMs });
  }
  if (rcfg.enableEvents) {
    log.info(
      { intervalSeconds: rcfg.enableEventsInterval },
      'broadcasting enable_events to the workers now, periodically, and to each worker when it comes online, so workers started without -E send task events (--no-enable-events turns this off)',
    );
    const broadcasts = metrics.control.enableEventsBroadcasts.labels();
    const onSight = new EnableEventsOnSight(rc, metrics.control.enableEventsOnSight, log, { replyTimeoutMs });
    state.onWorkerSeen((node) => onSight.workerSeen(node));
    out.push({
      poller: new EnableEventsPoller(rc, broadcasts, replyTimeoutMs, log, rateLimited, onSight),
      intervalMs: rcfg.enableEventsInterval * 1000,
      timeoutMs,
    });
  }
  return out;
}

/** An inspect poller writing to the metric families and reading the worker and queue state. */
export function inspectPollerFor(
  { metrics, state }: InspectParts,
  rc: RemoteControl,
  labels: LabelPolicy,
  log: RateLimitedLog,
  opts: InspectPollerOptions,
  now?: () => number,
): InspectPoller {
  return new InspectPoller(
    {
      rc,
      metrics: metrics.inspect,
      workerMetrics: metrics.workers,
      scrape: metrics.registry,
      workers: state.workers,
      queues: state.queues,
      labels,
      purgeHostname: (h) => state.purgeHostname(h),
      log,
    },
    opts,
    now,
  );
}
