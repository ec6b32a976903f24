import type { Config } from '../config/config.js';
import type { MetricRegistry } from '../metrics/registry.js';
import { STATE_TABLES, type StateMetrics, type StateTable } from '../metrics/state-metrics.js';
import { MAX_HELD } from './reorder.js';
import type { QueueRegistry } from './queue-registry.js';
import type { TaskEventHandler } from './task-events.js';
import type { TaskNamePolicy } from './task-names.js';
import type { TaskTracker } from './task-tracker.js';
import type { WorkerState } from './worker-state.js';

/** The bounded tables whose fill levels are exported. */
export interface StateTables {
  readonly tracker: Pick<TaskTracker, 'size'>;
  readonly workers: Pick<WorkerState, 'size'>;
  readonly queues: Pick<QueueRegistry, 'size'>;
  readonly taskNames: Pick<TaskNamePolicy, 'size' | 'limit'>;
  readonly tasks: Pick<TaskEventHandler, 'heldCount'>;
}

/**
 * celery_exporter_state_entries{table} and its limits: the limits set now, the entries at every
 * render (a scrape step of the registry).
 */
export function exportFillLevels(
  metrics: StateMetrics,
  registry: MetricRegistry,
  tables: StateTables,
  bounds: Pick<Config['metrics'], 'maxTrackedTasks' | 'maxWorkers' | 'maxQueues'>,
): void {
  const limits: Record<StateTable, number> = {
    tasks: bounds.maxTrackedTasks,
    workers: bounds.maxWorkers,
    queues: bounds.maxQueues,
    task_names: tables.taskNames.limit,
    series: registry.seriesLimit,
    held_events: MAX_HELD,
  };
  for (const t of STATE_TABLES) {
    metrics.limit.labels(t).set(limits[t]);
    metrics.rejected.labels(t);
    metrics.entries.labels(t);
  }
  const e = metrics.entries;
  registry.beforeRender(() => {
    e.labels('tasks').set(tables.tracker.size);
    e.labels('workers').set(tables.workers.size);
    e.labels('queues').set(tables.queues.size);
    e.labels('task_names').set(tables.taskNames.size);
    e.labels('series').set(registry.totalSeries);
    e.labels('held_events').set(tables.tasks.heldCount);
  });
}
