import type { AddressInfo } from 'node:net';
import { AmqpEventConsumer } from './broker/amqp/event-consumer.js';
import { amqpPollers } from './broker/amqp/pollers.js';
import { RedisEventSubscriber } from './broker/redis/event-subscriber.js';
import { RedisQueuePoller } from './broker/redis/queue-poller.js';
import type { EventTransport, TransportHooks } from './broker/transport.js';
import type { Config } from './config/config.js';
import { scrub } from './config/secrets.js';
import { Core } from './core.js';
import { HttpServer } from './http/server.js';
import { WebConfigFile } from './http/web-config.js';
import type { Logger } from './log.js';
import type { PollerSchedule } from './pollers/poller.js';
import { PollScheduler } from './pollers/scheduler.js';
import { remoteControlPollers } from './remote/pollers.js';
import { VERSION } from './version.js';

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
  const hooks: TransportHooks = {
    pipeline: core.pipeline,
    onReadyChange: (ready, reason) => {
      core.self.brokerUp.set(ready ? 1 : 0);
      if (ready) log.info({ broker: cfg.broker.url.masked }, `broker ready: ${scrub(reason)}`);
      else log.warn({ broker: cfg.broker.url.masked }, `broker not ready: ${scrub(reason)}`);
    },
    onReconnect: (component) => core.self.reconnects.labels(component).inc(),
    eventLagSeconds: () => core.pipeline.lagSeconds(),
    onEventsDropped: () => core.stream.droppedSuspected.inc(),
  };
  const transport = createTransport(cfg, hooks, log);

  const webConfig =
    cfg.http.webConfigFile === undefined
      ? undefined
      : new WebConfigFile(cfg.http.webConfigFile, (err) => log.error({ file: cfg.http.webConfigFile, err: err.message }, 'web config file is invalid; keeping the previous settings'));
  const server = new HttpServer(
    { ...cfg.http, webConfig },
    {
      metrics: (write) => core.registry.renderTo(write),
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
  const pollers = new PollScheduler(createPollers(cfg, core, log), core.self, log);
  pollers.start();

  const timer = setInterval(() => core.tick(Date.now()), 1000);
  timer.unref();

  return {
    address,
    core,
    async stop() {
      clearInterval(timer);
      await Promise.all([server.close(), transport.stop(), pollers.stop()]);
    },
  };
}

/** The background pollers for this broker; each issue's collectors are added here. */
function createPollers(cfg: Config, core: Core, log: Logger): PollerSchedule[] {
  const schedules: PollerSchedule[] = [];
  const every = { intervalMs: cfg.queues.pollInterval * 1000, timeoutMs: cfg.queues.pollTimeout * 1000 };
  if (cfg.broker.url.transport === 'redis') {
    core.self.reconnects.labels('queues');
    const poller = new RedisQueuePoller(
      cfg.broker,
      {
        queues: core.queues,
        queueMetrics: core.queueMetrics,
        brokerMetrics: core.brokerMetrics,
        onReconnect: () => core.self.reconnects.labels('queues').inc(),
      },
      { discoveryIntervalMs: cfg.queues.discoveryInterval * 1000, forgetAfterMs: cfg.queues.forgetAfter * 1000 },
      log,
    );
    schedules.push({ poller, ...every });
  }
  if (cfg.broker.url.transport === 'amqp') schedules.push(...amqpPollers(cfg, core, log));
  schedules.push(...remoteControlPollers(cfg, core, log));
  return schedules;
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
