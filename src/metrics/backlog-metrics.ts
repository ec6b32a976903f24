import { Gauge } from './gauge.js';
import type { MetricRegistry } from './registry.js';

/**
 * Backlog signals derived from task events (both brokers): how long the oldest task has waited
 * for a worker, how long the oldest running task has run, and how many run past a threshold.
 * Computed from the in-flight map when /metrics is rendered (see state/backlog.ts).
 */
export class BacklogMetrics {
  readonly oldestPendingAge: Gauge;
  readonly oldestActiveAge: Gauge;
  readonly runningOverThreshold: Gauge;

  constructor(reg: MetricRegistry) {
    this.oldestPendingAge = reg.register(
      new Gauge({
        name: 'celery_queue_oldest_pending_age_seconds',
        help: 'Age of the oldest task sent to the queue (task-sent) and not yet received by a worker; 0 when none. Only for queues with task-sent events.',
        labelNames: ['queue_name'],
      }),
    );
    this.oldestActiveAge = reg.register(
      new Gauge({
        name: 'celery_task_oldest_active_age_seconds',
        help: 'How long the longest-running started and unfinished task has been running; present while such a task runs.',
        labelNames: ['name', 'queue_name'],
      }),
    );
    this.runningOverThreshold = reg.register(
      new Gauge({
        name: 'celery_tasks_running_longer_than_threshold',
        help: 'Started and unfinished tasks running longer than --long-running-task-threshold seconds; present while a task of that name and queue runs.',
        labelNames: ['name', 'queue_name'],
      }),
    );
  }
}
