import type { AddressInfo } from 'node:net';
import { RedisEventSubscriber } from './broker/redis/event-subscriber.js';
import type { EventTransport, TransportHooks } from './broker/transport.js';
import type { Config } from './config/config.js';
import { scrub } from './config/secrets.js';
import { HttpServer } from './http/server.js';
import { RateLimitedLog, type Logger } from './log.js';
import { MetricRegistry } from './metrics/registry.js';
import { SelfMetrics } from './metrics/self-metrics.js';
import { TaskMetrics } from './metrics/task-metrics.js';
import { WorkerMetrics } from './metrics/worker-metrics.js';
import { EventPipeline } from './pipeline.js';
import { LabelPolicy } from './state/labels.js';
import { TaskEventHandler } from './state/task-events.js';
import { TaskTracker } from './state/task-tracker.js';
import { WorkerState } from './state/worker-state.js';
import { VERSION } from './version.js';

export interface Daemon {
  readonly address: AddressInfo;
  readonly registry: MetricRegistry;
  stop(): Promise<void>;
}

/** Wires broker → decoder → state → metrics → HTTP and starts them. */
export async function startDaemon(cfg: Config, log: Logger): Promise<Daemon> {
  const registry = new MetricRegistry({ staticLabels: cfg.metrics.staticLabels });
  const self = new SelfMetrics(registry, {
    version: VERSION,
    broker: cfg.broker.url.masked,
    transport: cfg.broker.url.transport,
  });
  const taskMetrics = new TaskMetrics(registry, {
    runtimeBuckets: cfg.metrics.runtimeBuckets,
    queueWaitBuckets: cfg.metrics.queueWaitBuckets,
    latencyBuckets: cfg.metrics.latencyBuckets,
    celeryExporterNames: cfg.metrics.celeryExporterNames,
  });
  const workerMetrics = new WorkerMetrics(registry);
  const labels = new LabelPolicy({
    stripHostnamePrefix: cfg.workers.stripHostnamePrefix,
    maxLength: cfg.metrics.maxLabelLength,
  });

  const evictions = { capacity: self.evicted.labels('capacity'), ttl: self.evicted.labels('ttl') };
  const tracker = new TaskTracker({
    maxTasks: cfg.metrics.maxTrackedTasks,
    ttlSeconds: cfg.metrics.trackedTaskTtl,
    onEvict: (reason) => evictions[reason].inc(),
  });
  self.trackedTasks.collect = () => self.trackedTasks.labels().set(tracker.size);

  const purgeHostname = (hostname: string) => {
    const removed = registry.removeWhere('hostname', hostname);
    taskMetrics.forgetHost(hostname);
    log.info({ hostname, series: removed }, 'purged series of a host not seen for the purge delay');
  };
  const workers = new WorkerState(
    workerMetrics,
    labels,
    { workerTimeout: cfg.workers.timeout, purgeAfter: cfg.workers.purgeAfter },
    {
      purgeHostname,
      onWorkerUp: (hostname) => log.info({ hostname }, 'worker online'),
      onWorkerDown: (hostname, reason) => log.info({ hostname, reason }, 'worker down'),
    },
  );
  const tasks = new TaskEventHandler(tracker, taskMetrics, labels);
  const pipeline = new EventPipeline(self, tasks, workers, new RateLimitedLog(log));

  const hooks: TransportHooks = {
    pipeline,
    onReadyChange: (ready, reason) => {
      self.brokerUp.set(ready ? 1 : 0);
      if (ready) log.info({ broker: cfg.broker.url.masked }, `broker ready: ${scrub(reason)}`);
      else log.warn({ broker: cfg.broker.url.masked }, `broker not ready: ${scrub(reason)}`);
    },
  };
  const transport: EventTransport = createTransport(cfg, hooks, log);

  const server = new HttpServer(
    cfg.http,
    {
      metrics: () => registry.render(),
      notReadyReason: () => (transport.ready ? undefined : 'broker not connected or not subscribed'),
      landing: { version: VERSION, broker: cfg.broker.url.masked },
    },
    log,
  );
  const address = await server.listen();
  log.info({ address: address.address, port: address.port, metricsPath: cfg.http.metricsPath, version: VERSION }, 'listening');
  transport.start();

  // Purge hosts that only ever sent task events (producers, workers seen without heartbeats).
  const purgeTaskOnlyHosts = (nowMs: number) => {
    if (cfg.workers.purgeAfter <= 0) return;
    const cutoff = nowMs - cfg.workers.purgeAfter * 1000;
    const stale: string[] = [];
    for (const [host, lastSeen] of taskMetrics.hostnames()) {
      if (lastSeen < cutoff && !workers.isKnown(host)) stale.push(host);
    }
    for (const host of stale) purgeHostname(host);
  };
  let ticks = 0;
  const timer = setInterval(() => {
    const nowMs = Date.now();
    workers.tick(nowMs);
    if (++ticks % 10 === 0) {
      tracker.sweep(nowMs);
      purgeTaskOnlyHosts(nowMs);
    }
  }, 1000);
  timer.unref();

  return {
    address,
    registry,
    async stop() {
      clearInterval(timer);
      await Promise.all([server.close(), transport.stop()]);
    },
  };
}

function createTransport(cfg: Config, hooks: TransportHooks, log: Logger): EventTransport {
  switch (cfg.broker.url.transport) {
    case 'redis':
      return new RedisEventSubscriber(cfg.broker, hooks, log);
    case 'amqp':
      throw new Error('the AMQP transport is not available in this build');
  }
}
