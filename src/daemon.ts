import type { AddressInfo } from 'node:net';
import { AmqpEventConsumer } from './broker/amqp/event-consumer.js';
import { RedisEventSubscriber } from './broker/redis/event-subscriber.js';
import type { EventTransport, TransportHooks } from './broker/transport.js';
import type { Config } from './config/config.js';
import { buildCollectors, type CollectorDeps } from './app/collectors.js';
import { setUpContinuity } from './continuity/wire.js';
import { scrub } from './config/secrets.js';
import { Core } from './core.js';
import { HttpServer } from './http/server.js';
import { WebConfigFile } from './http/web-config.js';
import type { Logger } from './log.js';
import { PollScheduler } from './pollers/scheduler.js';
import type { Mailbox } from './remote/mailbox.js';
import { VERSION } from './version.js';

/** How long a shutdown waits for goodbyes (QUIT, pidbox cleanup, open scrapes) before it lets go. */
const STOP_BUDGET_MS = 700;

export interface Daemon {
  readonly address: AddressInfo;
  readonly core: Core;
  stop(): Promise<void>;
}

/** Wires broker → core (decoder → state → metrics) → HTTP, and the once-a-second tick. */
export async function startDaemon(cfg: Config, log: Logger): Promise<Daemon> {
  const core = new Core(
    {
      metrics: cfg.metrics,
      workers: cfg.workers,
      brokerMasked: cfg.broker.url.masked,
      transport: cfg.broker.url.transport,
      queues: cfg.queues.names,
    },
    log,
  );
  core.self.reconnects.labels('events');
  // Restores --state-file before any event is counted.
  const continuity = setUpContinuity(cfg, core, log);
  let stopping = false;
  let readySince = 0;
  const hooks: TransportHooks = {
    pipeline: core.pipeline,
    onReadyChange: (ready, reason) => {
      core.self.brokerUp.set(ready ? 1 : 0);
      if (ready) readySince = Date.now();
      // The one line per outage and the one per recovery, same on both brokers (the pollers and
      // remote control stay quiet while the broker is down: PollScheduler's brokerDown).
      continuity.onReady(ready);
      if (ready) log.info({ broker: cfg.broker.url.masked }, `broker ready: ${scrub(reason)}`);
      else if (stopping) log.info({ broker: cfg.broker.url.masked }, 'broker connection closed: shutting down');
      else log.warn({ broker: cfg.broker.url.masked }, `broker not ready: ${scrub(reason)}`);
    },
    onReconnect: (component) => core.self.reconnects.labels(component).inc(),
    eventLagSeconds: () => core.pipeline.lagSeconds(),
    onEventsDropped: () => {
      core.stream.droppedSuspected.inc();
      continuity.onEventsLost();
    },
    stateSaves: continuity.stateSaves,
    onEventQueueRefused: (reason) => continuity.onEventQueueRefused(reason),
  };
  const transport = createTransport(cfg, hooks, log);

  const webConfig =
    cfg.http.webConfigFile === undefined
      ? undefined
      : new WebConfigFile(cfg.http.webConfigFile, (err) => log.error({ file: cfg.http.webConfigFile, err: err.message }, 'web config file is invalid; keeping the previous settings'));
  let pollers: PollScheduler | undefined;
  const scrapeWaitMs = cfg.queues.scrapeWait * 1000;
  const server = new HttpServer(
    { ...cfg.http, webConfig },
    {
      // Queue depth as of the scrape, not of the last interval (bounded wait; see scheduler.ts).
      // The response ends only once the state file holds values at least as new (see continuity/persister.ts).
      metrics: {
        before: async () => pollers?.refresh(scrapeWaitMs),
        render: (write) => core.registry.renderTo(write),
        after: () => continuity.afterScrape(),
      },
      notReadyReason: () => (transport.ready ? undefined : 'broker not connected or not subscribed'),
      landing: { version: VERSION, broker: cfg.broker.url.masked },
    },
    log,
  );
  const address = await server.listen();
  log.info(
    { address: address.address, port: address.port, metricsPath: cfg.http.urlPrefix + cfg.http.metricsPath, tls: server.tlsEnabled, version: VERSION },
    'listening',
  );
  transport.start();
  pollers = new PollScheduler(buildCollectors(cfg, collectorDeps(core, continuity.mailbox), log), core.self, log, {
    // Down, or back for less than 5 s (the pollers' own clients reconnect on their own backoff).
    brokerDown: () => !transport.ready || Date.now() - readySince < 5000,
    brokerUnreachable: () => !transport.ready,
  });
  const scheduler = pollers;
  if (cfg.queues.minPollInterval > 0) core.onTaskSent = () => scheduler.nudge();
  pollers.start();
  continuity.start();

  const timer = setInterval(() => core.tick(Date.now()), 1000);
  timer.unref();

  return {
    address,
    core,
    async stop() {
      stopping = true;
      clearInterval(timer);
      const failures: unknown[] = [];
      try {
        // The reconcile round is inside the budget too: against a black-holed broker it waits as
        // long as any other broker call.
        const parts: Record<string, Promise<void>> = {
          http: server.close(),
          events: transport.stop(),
          pollers: continuity.stopReconcile().then(() => scheduler.stop()),
        };
        const pending = new Set(Object.keys(parts));
        const settled = Object.entries(parts).map(([name, p]) => p.then(() => void pending.delete(name), (err: unknown) => void (pending.delete(name), failures.push(err))));
        // A black-holed broker answers nothing, not even QUIT: waiting for it made SIGTERM run into
        // the 5 s watchdog and exit 1. Whatever is still open after the budget is a connection the
        // process exit closes anyway.
        let budget: NodeJS.Timeout | undefined;
        await Promise.race([Promise.all(settled), new Promise<void>((resolve) => (budget = setTimeout(resolve, STOP_BUDGET_MS)))]);
        clearTimeout(budget);
        if (pending.size > 0) log.warn({ components: [...pending], budgetMs: STOP_BUDGET_MS }, 'shutdown budget spent (broker not answering?); closing what is still open unanswered');
      } finally {
        // After HTTP and the event stream stopped: nothing counted after the save is lost.
        continuity.finalSave();
      }
      if (failures.length > 0) throw failures[0];
    },
  };
}

/** The collectors' narrow view of the core (see src/app/collectors.ts). */
function collectorDeps(core: Core, mailbox: Mailbox | undefined): CollectorDeps {
  return {
    queues: core.queues,
    queueMetrics: core.queueMetrics,
    brokerMetrics: core.brokerMetrics,
    inspectMetrics: core.inspectMetrics,
    workerMetrics: core.workerMetrics,
    controlMetrics: core.controlMetrics,
    workers: core.workers,
    reconnects: core.self.reconnects,
    registry: core.registry,
    purgeHostname: (h) => core.purgeHostname(h),
    onWorkerSeen: (listener) => (core.onWorkerSeen = listener),
    mailbox,
  };
}

/** The event stream of the configured broker (also used by the `events` subcommand). */
export function createTransport(cfg: Config, hooks: TransportHooks, log: Logger): EventTransport {
  switch (cfg.broker.url.transport) {
    case 'redis':
      return new RedisEventSubscriber(cfg.broker, hooks, log);
    case 'amqp':
      return new AmqpEventConsumer(cfg.broker, cfg.amqp, hooks, log);
  }
}
