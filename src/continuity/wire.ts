import { createMailbox } from '../broker/mailbox.js';
import type { StateSaves } from '../broker/transport.js';
import type { Config } from '../config/config.js';
import type { Core } from '../core.js';
import type { Logger } from '../log.js';
import { Counter, type CounterChild } from '../metrics/counter.js';
import { RemoteControl } from '../remote/client.js';
import type { Mailbox } from '../remote/mailbox.js';
import { LabelPolicy } from '../state/labels.js';
import { StatePersister } from './persister.js';
import { Reconciler } from './reconcile.js';
import { RestartLossWatch } from './restart-loss.js';
import { fingerprint } from './snapshot.js';

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
export function setUpContinuity(cfg: Config, core: Core, log: Logger): Continuity {
  const st = cfg.state;
  let persister: StatePersister | undefined;
  let lossWatch: RestartLossWatch | undefined;
  if (st?.file !== undefined) {
    const m = cfg.metrics;
    const settings = {
      stripHostnamePrefix: cfg.workers.stripHostnamePrefix,
      maxLabelLength: m.maxLabelLength,
      taskNameAllow: m.taskNameAllow?.source,
      taskNameDeny: m.taskNameDeny?.source,
      maxTaskNames: m.maxTaskNames,
      staticLabels: Object.entries(m.staticLabels).sort(),
    };
    persister = new StatePersister(core, log, {
      path: st.file,
      fingerprint: fingerprint(core, settings),
      saveIntervalMs: st.saveInterval * 1000,
      scrapeMinIntervalMs: st.scrapeSaveMinInterval * 1000,
    });
    const savedAt = persister.load();
    // A named RabbitMQ event queue kept the events for us: nothing to suspect.
    const kept = cfg.broker.url.transport === 'amqp' && cfg.amqp.durableEventQueue !== undefined;
    if (savedAt !== undefined && !kept) lossWatch = new RestartLossWatch(core, log, savedAt);
  }

  let mailbox: Mailbox | undefined;
  let reconciler: Reconciler | undefined;
  if (cfg.remoteControl.inspect) {
    const reconnects = core.self.reconnects.labels('control');
    mailbox = createMailbox(cfg.broker, log, { onReconnect: () => reconnects.inc() });
    const rc = new RemoteControl(mailbox, { onInvalidReply: (reason) => core.controlMetrics.invalidReplies.labels(reason).inc() });
    const counted = core.registry.register(
      new Counter({
        name: 'celery_exporter_reconciled_tasks_total',
        help: 'In-flight tasks changed by asking the workers (inspect active/reserved/scheduled) at start and after reconnects: added, updated, or dropped (finished unseen).',
        labelNames: ['action'],
      }),
    );
    reconciler = new Reconciler(
      {
        rc,
        tracker: core.tracker,
        labels: new LabelPolicy({ stripHostnamePrefix: cfg.workers.stripHostnamePrefix, maxLength: cfg.metrics.maxLabelLength, taskNames: core.taskNames }),
        counted: { added: observed(counted.labels('added'), (n) => lossWatch?.rebuilt(n)), updated: counted.labels('updated'), dropped: counted.labels('dropped') },
        log,
      },
      { replyTimeoutMs: cfg.remoteControl.replyTimeout * 1000, graceMs: (st?.reconcileGrace ?? 30) * 1000, ttlSeconds: cfg.metrics.trackedTaskTtl },
    );
  }

  let everReady = false;
  let readyNow = false;
  const p = persister;
  return {
    mailbox,
    stateSaves: p === undefined ? undefined : { onSaved: (cb) => p.onSaved(cb), requestSave: () => p.requestSave(), saveNow: () => p.save('acks') },
    onEventQueueRefused: eventQueueRefusals(cfg, core),
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
function eventQueueRefusals(cfg: Config, core: Core): (reason: 'arguments' | 'in_use') => void {
  if (cfg.amqp.durableEventQueue === undefined || cfg.broker.url.transport !== 'amqp') return () => undefined;
  const family = core.registry.register(
    new Counter({
      name: 'celery_exporter_event_queue_refusals_total',
      help: 'Attempts to consume the --event-queue-name queue that were refused: arguments (it exists with other x-arguments), in_use (another consumer is attached).',
      labelNames: ['reason'],
    }),
  );
  const by = { arguments: family.labels('arguments'), in_use: family.labels('in_use') };
  return (reason) => by[reason].inc();
}
