import { Counter } from './counter.js';
import { Gauge } from './gauge.js';
import type { MetricRegistry } from './registry.js';

/** The exporter's bounded tables, so an operator sees how full they are before they overflow. */
export const STATE_TABLES = ['tasks', 'workers', 'queues', 'task_names', 'series', 'held_events'] as const;
export type StateTable = (typeof STATE_TABLES)[number];

export class StateMetrics {
  readonly entries: Gauge;
  readonly limit: Gauge;
  readonly rejected: Counter;
  readonly seriesDropped: Counter;

  constructor(reg: MetricRegistry) {
    this.entries = reg.register(
      new Gauge({
        name: 'celery_exporter_state_entries',
        help: 'Entries in each of the exporter’s bounded tables (tasks in flight, workers, queues, task names with their own series, metric series, events held for reordering).',
        labelNames: ['table'],
      }),
    );
    this.limit = reg.register(
      new Gauge({
        name: 'celery_exporter_state_entries_limit',
        help: 'The configured bound of each table (0 = unbounded).',
        labelNames: ['table'],
      }),
    );
    this.rejected = reg.register(
      new Counter({
        name: 'celery_exporter_state_rejected_total',
        help: 'New entries refused because their table was full (workers, queues), by table.',
        labelNames: ['table'],
      }),
    );
    this.seriesDropped = reg.register(
      new Counter({
        name: 'celery_exporter_series_dropped_total',
        help: 'New series refused at the --max-series cap, by metric; the values they would have carried are lost.',
        labelNames: ['metric'],
      }),
    );
  }
}
