import { createMailbox } from '../broker/mailbox.js';
import type { StateSaves } from '../broker/transport.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { Counter, type CounterChild } from '../metrics/counter.js';
import type { ExporterMetrics } from '../metrics/exporter-metrics.js';
import type { MetricRegistry } from '../metrics/registry.js';
import { RemoteControl } from '../remote/client.js';
import type { Mailbox } from '../remote/mailbox.js';
import { LabelPolicy } from '../state/labels.js';
import { StatePersister } from './persister.js';
import { Reconciler } from './reconcile.js';
import { RestartLossWatch, type RestartLossParts } from './restart-loss.js';
import { fingerprint, type SnapshotParts } from './snapshot.js';

/** What continuity reads and registers: the snapshot's parts, and the families it counts in. */
export interface ContinuityParts extends SnapshotParts, RestartLossParts {
  readonly metrics: SnapshotParts['metrics'] & RestartLossParts['metrics'] & Pick<ExporterMetrics, 'registry' | 'self' | 'control'>;
  readonly state: SnapshotParts['state'] & RestartLossParts['state'];
}

/** The daemon's view of continuity: the state file and the rebuild from the workers, each optional. */
export interface Continuity {
  /** The remote-control mailbox the reconciler uses, for the pollers to share (they close it). */
  readonly mailbox: Mailbox | undefined;
  /** The event stream became ready (true) or was lost (false). */
  onReady(ready: boolean): void;
  /** The broker dropped events (a reconnect may follow): ask the workers again. */
  onEventsLost(): void;
  /** Await before ending a scrape's response. */
  afterScrape(): Promise<void>;
  start(): void;
  /** Stops the reconciler (before the pollers close the mailbox). */
  stopReconcile(): Promise<void>;
  /** The final save, once events and scrapes have stopped. */
  finalSave(): void;
  /** With --state-file: its saves, for the RabbitMQ named event queue's acknowledgements. */
  readonly stateSaves: StateSaves | undefined;
  /** The named event queue was refused (counted). */
  onEventQueueRefused(reason: 'arguments' | 'in_use'): void;
}

/** Loads the state file (before any event) and builds the reconciler. */
export function setUpContinuity(cfg: Config, parts: ContinuityParts, log: Logger): Continuity {
  const { persister, lossWatch } = loadedPersister(cfg, parts, log);
  const rebuilt = (n: number) => lossWatch?.rebuilt(n);
  const { mailbox, reconciler } = cfg.remoteControl.inspect ? reconcilerFor(cfg, parts, rebuilt, log) : { mailbox: undefined, reconciler: undefined };

  let everReady = false;
  let readyNow = false;
  const p = persister;
  return {
    mailbox,
    stateSaves: p === undefined ? undefined : { onSaved: (cb) => p.onSaved(cb), requestSave: () => p.requestSave(), saveNow: () => p.save('acks') },
    onEventQueueRefused: eventQueueRefusals(cfg, parts.metrics.registry),
    onReady(ready) {
      if (!ready && everReady) lossWatch?.disarm();
      if (ready && !readyNow) reconciler?.trigger(everReady ? 'reconnect' : 'start');
      readyNow = ready;
      everReady ||= ready;
    },
    onEventsLost() {
      lossWatch?.disarm();
      reconciler?.trigger('events lost');
    },
    afterScrape: () => persister?.afterScrape() ?? Promise.resolve(),
    start() {
      persister?.start();
    },
    stopReconcile: () => reconciler?.stop() ?? Promise.resolve(),
    finalSave() {
      persister?.stop();
    },
  };
}

/**
 * With --state-file: the persister, the saved state already restored, and the watch for events
 * lost across the restart when one was restored.
 */
function loadedPersister(cfg: Config, parts: ContinuityParts, log: Logger): { persister?: StatePersister; lossWatch?: RestartLossWatch } {
  const st = cfg.state;
  if (st.file === undefined) return {};
  const m = cfg.metrics;
  const settings = {
    stripHostnamePrefix: cfg.workers.stripHostnamePrefix,
    maxLabelLength: m.maxLabelLength,
    taskNameAllow: m.taskNameAllow?.source,
    taskNameDeny: m.taskNameDeny?.source,
    maxTaskNames: m.maxTaskNames,
    staticLabels: Object.entries(m.staticLabels).sort(),
  };
  const persister = new StatePersister(parts.metrics.registry, parts, log, {
    path: st.file,
    fingerprint: fingerprint(parts, settings),
    saveIntervalMs: st.saveInterval * 1000,
    scrapeMinIntervalMs: st.scrapeSaveMinInterval * 1000,
  });
  const savedAt = persister.load();
  // A named RabbitMQ event queue kept the events for us: nothing to suspect.
  const kept = cfg.broker.url.transport === 'amqp' && cfg.amqp.durableEventQueue !== undefined;
  return { persister, lossWatch: savedAt !== undefined && !kept ? new RestartLossWatch(parts, log, savedAt) : undefined };
}

/** The rebuild of the in-flight tasks from inspect, and the mailbox it opens (shared with the pollers). */
function reconcilerFor(
  cfg: Config,
  { metrics, state }: ContinuityParts,
  rebuilt: (tasks: number) => void,
  log: Logger,
): { mailbox: Mailbox; reconciler: Reconciler } {
  const reconnects = metrics.self.reconnects.labels('control');
  const mailbox = createMailbox(cfg.broker, log, { onReconnect: () => reconnects.inc() });
  const rc = new RemoteControl(mailbox, { onInvalidReply: (reason) => metrics.control.invalidReplies.labels(reason).inc() });
  const counted = metrics.registry.register(
    new Counter({
      name: 'celery_exporter_reconciled_tasks_total',
      help: 'In-flight tasks changed by asking the workers (inspect active/reserved/scheduled) at start and after reconnects: added, updated, or dropped (finished unseen).',
      labelNames: ['action'],
    }),
  );
  const reconciler = new Reconciler(
    {
      rc,
      tracker: state.tracker,
      labels: new LabelPolicy({ stripHostnamePrefix: cfg.workers.stripHostnamePrefix, maxLength: cfg.metrics.maxLabelLength, taskNames: state.taskNames }),
      counted: { added: observed(counted.labels('added'), rebuilt), updated: counted.labels('updated'), dropped: counted.labels('dropped') },
      log,
    },
    { replyTimeoutMs: cfg.remoteControl.replyTimeout * 1000, graceMs: cfg.state.reconcileGrace * 1000, ttlSeconds: cfg.metrics.trackedTaskTtl },
  );
  return { mailbox, reconciler };
}

/** The reconciler's counter, also telling `seen` how much each round added. */
function observed(child: CounterChild, seen: (n: number) => void): CounterChild {
  const inc = child.inc.bind(child);
  child.inc = (by = 1) => {
    inc(by);
    seen(by);
  };
  return child;
}

/** celery_exporter_event_queue_refusals_total, only with --event-queue-name. */
function eventQueueRefusals(cfg: Config, registry: MetricRegistry): (reason: 'arguments' | 'in_use') => void {
  if (cfg.amqp.durableEventQueue === undefined || cfg.broker.url.transport !== 'amqp') return () => undefined;
  const family = registry.register(
    new Counter({
      name: 'celery_exporter_event_queue_refusals_total',
      help: 'Attempts to consume the --event-queue-name queue that were refused: arguments (it exists with other x-arguments), in_use (another consumer is attached).',
      labelNames: ['reason'],
    }),
  );
  const by = { arguments: family.labels('arguments'), in_use: family.labels('in_use') };
  return (reason) => by[reason].inc();
}
