import { Gauge } from './gauge.js';
import type { MetricRegistry } from './registry.js';

/** Worker gauges fed by worker-online/heartbeat/offline events. */
export class WorkerMetrics {
  readonly up: Gauge;
  readonly tasksActive: Gauge;
  readonly tasksProcessed: Gauge;
  readonly loadAverage: Gauge;
  readonly lastHeartbeat: Gauge;
  readonly info: Gauge;

  constructor(reg: MetricRegistry) {
    const hostname = ['hostname'];
    this.up = reg.register(
      new Gauge({
        name: 'celery_worker_up',
        help: '1 while the worker sends heartbeats; 0 after worker-offline or when heartbeats stop for longer than the timeout.',
        labelNames: hostname,
      }),
    );
    this.tasksActive = reg.register(
      new Gauge({
        name: 'celery_worker_tasks_active',
        help: 'Tasks the worker is executing now (heartbeat "active").',
        labelNames: hostname,
      }),
    );
    this.tasksProcessed = reg.register(
      new Gauge({
        name: 'celery_worker_tasks_processed',
        help: 'Tasks the worker has processed since it started (heartbeat "processed"; resets when the worker restarts).',
        labelNames: hostname,
      }),
    );
    this.loadAverage = reg.register(
      new Gauge({
        name: 'celery_worker_load_average',
        help: 'Load average of the worker host (heartbeat "loadavg"), by period (1m, 5m, 15m).',
        labelNames: ['hostname', 'period'],
      }),
    );
    this.lastHeartbeat = reg.register(
      new Gauge({
        name: 'celery_worker_last_heartbeat_timestamp_seconds',
        help: 'Time of the last worker-online/heartbeat event, in the worker’s clock (Unix seconds).',
        labelNames: hostname,
      }),
    );
    this.info = reg.register(
      new Gauge({
        name: 'celery_worker_info',
        help: 'Worker software (from its heartbeats); always 1.',
        labelNames: ['hostname', 'sw_ident', 'sw_ver', 'sw_sys'],
      }),
    );
  }
}
