/**
 * Variables and expressions shared by several dashboards.
 */
import { labelVariable, rate, type Unit, type Variable } from './lib.js';

export const JOB = labelVariable('job', 'Job', 'celery_exporter_build_info');
/** Queues known from the broker (depth) or from task events. */
export const QUEUE = labelVariable(
  'queue_name',
  'Queue',
  '{__name__=~"celery_queue_length|celery_task_sent_total|celery_task_received_total", job=~"$job"}',
);
export const TASK = labelVariable(
  'name',
  'Task',
  '{__name__=~"celery_task_sent_total|celery_task_received_total", job=~"$job", queue_name=~"$queue_name"}',
);
export const HOSTNAME = labelVariable('hostname', 'Worker', 'celery_worker_up{job=~"$job"}');

export const taskVariables: Variable[] = [JOB, QUEUE, TASK];

/** Succeeded + failed in one selector (the two differ by `exception`, so no label set collides). */
export const completedRate = (filter: string) =>
  rate('', `__name__=~"celery_task_succeeded_total|celery_task_failed_total", ${filter}`);

/** Failed ÷ (succeeded + failed), by `by`. */
export function failureRatio(filter: string, by: string[]): string {
  const b = by.length > 0 ? `by (${by.join(', ')}) ` : '';
  return `sum ${b}(${rate('celery_task_failed_total', filter)}) / sum ${b}(${completedRate(filter)})`;
}

/**
 * Worker utilisation — the place to change when the pool size is exported.
 *
 * Heartbeats carry how many tasks a worker executes (`active`), not its pool size, so today this
 * is the busy-slot count per worker (unit: slots), read next to the concurrency you run. When the
 * exporter exports each worker's pool size (remote control), make this
 * `celery_worker_tasks_active / celery_worker_pool_max_concurrency` with unit `percentunit`: every
 * utilisation panel and the "where does the time go" view follow.
 */
export function workerUtilisation(filter: string): { title: string; expr: string; unit: Unit; description: string } {
  return {
    title: 'Worker utilisation (busy slots)',
    expr: `sum by (hostname) (celery_worker_tasks_active{${filter}})`,
    unit: 'short',
    description:
      'Tasks executing on each worker (heartbeat `active`): busy pool slots. Compare with the worker concurrency (-c); a worker at its concurrency is saturated.',
  };
}
