import type { Config } from '../config/config.js';
import { VERSION } from '../version.js';
import { BacklogMetrics } from './backlog-metrics.js';
import { BrokerMetrics } from './broker-metrics.js';
import { ControlSelfMetrics, InspectMetrics } from './inspect-metrics.js';
import { PeriodicMetrics } from './periodic-metrics.js';
import { QueueMetrics } from './queue-metrics.js';
import { MetricRegistry } from './registry.js';
import { SelfMetrics } from './self-metrics.js';
import { StateMetrics } from './state-metrics.js';
import { StreamMetrics } from './stream-metrics.js';
import { TaskMetrics } from './task-metrics.js';
import { WorkerMetrics } from './worker-metrics.js';

/** What the metric families are built from. */
export type MetricsConfig = Pick<Config, 'metrics' | 'broker'>;

/**
 * Every metric family the exporter always serves, built once from the configuration, and the
 * registry that renders them. Families registered elsewhere (the state file's, the management
 * API's) come after these. The order of construction below is the order of /metrics.
 */
export class ExporterMetrics {
  readonly registry: MetricRegistry;
  readonly self: SelfMetrics;
  /** celery_exporter_state_entries, _limit, _rejected_total: the fill levels of the state tables. */
  readonly stateTables: StateMetrics;
  readonly stream: StreamMetrics;
  readonly tasks: TaskMetrics;
  readonly workers: WorkerMetrics;
  readonly queues: QueueMetrics;
  readonly broker: BrokerMetrics;
  readonly backlog: BacklogMetrics;
  readonly inspect: InspectMetrics;
  readonly control: ControlSelfMetrics;
  readonly periodic: PeriodicMetrics;

  /** `defaultMetrics: false` leaves out prom-client's process_* and nodejs_* (tests, benchmarks). */
  constructor(cfg: MetricsConfig, opts: { defaultMetrics?: boolean } = {}) {
    const m = cfg.metrics;
    this.registry = new MetricRegistry({ staticLabels: m.staticLabels, defaultMetrics: opts.defaultMetrics, maxSeries: m.maxSeries });
    this.self = new SelfMetrics(this.registry, { version: VERSION, broker: cfg.broker.url.masked, transport: cfg.broker.url.transport });
    const stateTables = (this.stateTables = new StateMetrics(this.registry));
    this.registry.onSeriesDropped = (metric) => stateTables.seriesDropped.labels(metric).inc();
    this.stream = new StreamMetrics(this.registry);
    this.tasks = new TaskMetrics(this.registry, {
      runtimeBuckets: m.runtimeBuckets,
      queueWaitBuckets: m.queueWaitBuckets,
      latencyBuckets: m.latencyBuckets,
      celeryExporterNames: m.celeryExporterNames,
      dropLabels: new Set(m.dropLabels),
      maxExceptionClasses: m.maxExceptionClasses,
    });
    this.workers = new WorkerMetrics(this.registry);
    this.queues = new QueueMetrics(this.registry);
    this.broker = new BrokerMetrics(this.registry);
    this.backlog = new BacklogMetrics(this.registry);
    this.inspect = new InspectMetrics(this.registry);
    this.control = new ControlSelfMetrics(this.registry);
    this.periodic = new PeriodicMetrics(this.registry);
  }
}
