import type { AddressInfo } from 'node:net';
import { buildCollectors, collectorDeps } from './app/collectors.js';
import { buildEventPath, type EventPath } from './app/event-path.js';
import { AmqpEventConsumer } from './broker/amqp/event-consumer.js';
import { RedisEventSubscriber } from './broker/redis/event-subscriber.js';
import type { EventTransport, TransportHooks } from './broker/transport.js';
import type { Config } from './config/config.js';
import { setUpContinuity, type Continuity } from './continuity/wire.js';
import { scrub } from './config/secrets.js';
import { HttpServer } from './http/server.js';
import { WebConfigFile } from './http/web-config.js';
import type { Logger } from './log.js';
import type { MetricRegistry } from './metrics/registry.js';
import { PollScheduler } from './pollers/scheduler.js';
import { VERSION } from './version.js';

/** How long a shutdown waits for goodbyes (QUIT, pidbox cleanup, open scrapes) before it lets go. */
const STOP_BUDGET_MS = 700;

export interface Daemon {
  readonly address: AddressInfo;
  stop(): Promise<void>;
}

/**
 * Wires config → metrics → state → pipeline (buildEventPath) → transport → collectors → HTTP,
 * and the once-a-second tick; each part gets only what it uses.
 */
export async function startDaemon(cfg: Config, log: Logger): Promise<Daemon> {
  const parts = buildEventPath(cfg, log);
  const { metrics, state, pipeline } = parts;
  metrics.self.reconnects.labels('events');
  // Restores --state-file before any event is counted.
  const continuity = setUpContinuity(cfg, { metrics, state }, log);
  const link: BrokerLink = { stopping: false, readySince: 0 };
  const transport = createTransport(cfg, transportHooks(cfg, { metrics, pipeline }, continuity, link, log), log);

  let pollers: PollScheduler | undefined;
  const server = metricsServer(cfg, metrics.registry, { continuity, transport, pollers: () => pollers }, log);
  const address = await server.listen();
  log.info(
    { address: address.address, port: address.port, metricsPath: cfg.http.urlPrefix + cfg.http.metricsPath, tls: server.tlsEnabled, version: VERSION },
    'listening',
  );
  transport.start();
  pollers = new PollScheduler(buildCollectors(cfg, collectorDeps(parts, continuity.mailbox), log), metrics.self, log, {
    // Down, or back for less than 5 s (the pollers' own clients reconnect on their own backoff).
    brokerDown: () => !transport.ready || Date.now() - link.readySince < 5000,
    brokerUnreachable: () => !transport.ready,
  });
  const scheduler = pollers;
  if (cfg.queues.minPollInterval > 0) state.onTaskSent(() => scheduler.nudge());
  pollers.start();
  continuity.start();

  const timer = setInterval(() => state.tick(Date.now()), 1000);
  timer.unref();

  return {
    address,
    async stop() {
      link.stopping = true;
      clearInterval(timer);
      try {
        // The reconcile round is inside the budget too: against a black-holed broker it waits as
        // long as any other broker call.
        await stopWithinBudget(
          { http: server.close(), events: transport.stop(), pollers: continuity.stopReconcile().then(() => scheduler.stop()) },
          log,
        );
      } finally {
        // After HTTP and the event stream stopped: nothing counted after the save is lost.
        continuity.finalSave();
      }
    },
  };
}

/** The event connection's state as the daemon's log lines and the pollers' pause read it. */
interface BrokerLink {
  stopping: boolean;
  /** When the event stream last became ready (ms). */
  readySince: number;
}

/** What the event transport calls: the pipeline, and the daemon's reactions to the connection. */
function transportHooks(
  cfg: Config,
  { metrics, pipeline }: Pick<EventPath, 'metrics' | 'pipeline'>,
  continuity: Continuity,
  link: BrokerLink,
  log: Logger,
): TransportHooks {
  return {
    pipeline,
    onReadyChange: (ready, reason) => {
      metrics.self.brokerUp.set(ready ? 1 : 0);
      if (ready) link.readySince = Date.now();
      // The one line per outage and the one per recovery, same on both brokers (the pollers and
      // remote control stay quiet while the broker is down: PollScheduler's brokerDown).
      continuity.onReady(ready);
      if (ready) log.info({ broker: cfg.broker.url.masked }, `broker ready: ${scrub(reason)}`);
      else if (link.stopping) log.info({ broker: cfg.broker.url.masked }, 'broker connection closed: shutting down');
      else log.warn({ broker: cfg.broker.url.masked }, `broker not ready: ${scrub(reason)}`);
    },
    onReconnect: (component) => metrics.self.reconnects.labels(component).inc(),
    eventLagSeconds: () => pipeline.lagSeconds(),
    onEventsDropped: () => {
      metrics.stream.droppedSuspected.inc();
      continuity.onEventsLost();
    },
    stateSaves: continuity.stateSaves,
    onEventQueueRefused: (reason) => continuity.onEventQueueRefused(reason),
  };
}

/** The HTTP server: /metrics renders the registry, between the queue refresh and the state save. */
function metricsServer(
  cfg: Config,
  registry: MetricRegistry,
  around: { continuity: Continuity; transport: EventTransport; pollers: () => PollScheduler | undefined },
  log: Logger,
): HttpServer {
  const webConfig =
    cfg.http.webConfigFile === undefined
      ? undefined
      : new WebConfigFile(cfg.http.webConfigFile, (err) => log.error({ file: cfg.http.webConfigFile, err: err.message }, 'web config file is invalid; keeping the previous settings'));
  const scrapeWaitMs = cfg.queues.scrapeWait * 1000;
  return new HttpServer(
    { ...cfg.http, webConfig },
    {
      // Queue depth as of the scrape, not of the last interval (bounded wait; see scheduler.ts).
      // The response ends only once the state file holds values at least as new (see continuity/persister.ts).
      metrics: {
        before: async () => around.pollers()?.refresh(scrapeWaitMs),
        render: (write) => registry.renderTo(write),
        after: () => around.continuity.afterScrape(),
      },
      notReadyReason: () => (around.transport.ready ? undefined : 'broker not connected or not subscribed'),
      landing: { version: VERSION, broker: cfg.broker.url.masked },
    },
    log,
  );
}

/**
 * Waits for the parts to stop, at most STOP_BUDGET_MS; throws the first failure. A black-holed
 * broker answers nothing, not even QUIT: waiting for it made SIGTERM run into the 5 s watchdog
 * and exit 1. Whatever is still open after the budget is a connection the process exit closes anyway.
 */
async function stopWithinBudget(parts: Record<string, Promise<void>>, log: Logger): Promise<void> {
  const failures: unknown[] = [];
  const pending = new Set(Object.keys(parts));
  const settled = Object.entries(parts).map(([name, p]) => p.then(() => void pending.delete(name), (err: unknown) => void (pending.delete(name), failures.push(err))));
  let budget: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(settled), new Promise<void>((resolve) => (budget = setTimeout(resolve, STOP_BUDGET_MS)))]);
  clearTimeout(budget);
  if (pending.size > 0) log.warn({ components: [...pending], budgetMs: STOP_BUDGET_MS }, 'shutdown budget spent (broker not answering?); closing what is still open unanswered');
  if (failures.length > 0) throw failures[0];
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
