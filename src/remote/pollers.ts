import { createMailbox } from '../broker/mailbox.js';
import type { Config } from '../config/config.js';
import type { Core } from '../core.js';
import { RateLimitedLog, type Logger } from '../log.js';
import type { CollectorSchedule } from '../pollers/collector.js';
import { LabelPolicy } from '../state/labels.js';
import { RemoteControl } from './client.js';
import { EnableEventsOnSight } from './enable-events-on-sight.js';
import { EnableEventsPoller } from './enable-events-poller.js';
import { InspectPoller, type InspectPollerOptions } from './inspect-poller.js';
import type { Mailbox } from './mailbox.js';

/** The remote-control pollers the configuration asks for, sharing one mailbox (connections). */
export function remoteControlPollers(cfg: Config, core: Core, log: Logger, mailbox?: Mailbox): CollectorSchedule[] {
  const rcfg = cfg.remoteControl;
  if (!rcfg.inspect && !rcfg.enableEvents) return [];
  // Its connections' recoveries count as celery_exporter_reconnects_total{component="control"}.
  const reconnects = core.self.reconnects.labels('control');
  const rc = new RemoteControl(mailbox ?? createMailbox(cfg.broker, log, { onReconnect: () => reconnects.inc() }), {
    onInvalidReply: (reason) => core.controlMetrics.invalidReplies.labels(reason).inc(),
  });
  const rateLimited = new RateLimitedLog(log);
  const replyTimeoutMs = rcfg.replyTimeout * 1000;
  const timeoutMs = rcfg.pollTimeout * 1000;
  const out: CollectorSchedule[] = [];
  if (rcfg.inspect) {
    const labels = new LabelPolicy({ stripHostnamePrefix: cfg.workers.stripHostnamePrefix, maxLength: cfg.metrics.maxLabelLength });
    const poller = inspectPollerFor(core, rc, labels, rateLimited, { replyTimeoutMs, purgeAfterMs: cfg.workers.purgeAfter * 1000 });
    out.push({ collector: poller, intervalMs: rcfg.pollInterval * 1000, timeoutMs });
  }
  if (rcfg.enableEvents) {
    log.info(
      { intervalSeconds: rcfg.enableEventsInterval },
      'broadcasting enable_events to the workers now, periodically, and to each worker when it comes online, so workers started without -E send task events (--no-enable-events turns this off)',
    );
    const broadcasts = core.controlMetrics.enableEventsBroadcasts.labels();
    const onSight = new EnableEventsOnSight(rc, core.controlMetrics.enableEventsOnSight, log, { replyTimeoutMs });
    core.onWorkerSeen = (node) => onSight.workerSeen(node);
    out.push({
      collector: new EnableEventsPoller(rc, broadcasts, replyTimeoutMs, log, rateLimited, onSight),
      intervalMs: rcfg.enableEventsInterval * 1000,
      timeoutMs,
    });
  }
  return out;
}

/** An inspect poller writing to the core's metric families and reading its worker and queue state. */
export function inspectPollerFor(
  core: Core,
  rc: RemoteControl,
  labels: LabelPolicy,
  log: RateLimitedLog,
  opts: InspectPollerOptions,
  now?: () => number,
): InspectPoller {
  return new InspectPoller(
    {
      rc,
      metrics: core.inspectMetrics,
      workerMetrics: core.workerMetrics,
      workers: core.workers,
      queues: core.queues,
      labels,
      purgeHostname: (h) => core.purgeHostname(h),
      log,
    },
    opts,
    now,
  );
}
