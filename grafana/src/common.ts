/**
 * Variables and expressions shared by several dashboards.
 */
import { labelVariable, q, rate, type Query, type Unit, type Variable } from './lib.js';

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

/**
 * Succeeded + failed per `by` group. Two sums, not one `{__name__=~"…succeeded…|…failed…"}`
 * selector: the failed series every task series starts with (at 0, exception="") has the same
 * labels as its succeeded series once rate() drops the name, which Prometheus rejects (as it did
 * already with --drop-label exception). The `or` arms keep a group that has only one of the two.
 */
export function completedRate(filter: string, by: string[] = [], window?: string): string {
  const b = by.length > 0 ? `by (${by.join(', ')}) ` : '';
  const s = `sum ${b}(${rate('celery_task_succeeded_total', filter, window)})`;
  const f = `sum ${b}(${rate('celery_task_failed_total', filter, window)})`;
  return `(${s} + ${f} or ${s} or ${f})`;
}

/** Failed ÷ (succeeded + failed), by `by`. */
export function failureRatio(filter: string, by: string[]): string {
  const b = by.length > 0 ? `by (${by.join(', ')}) ` : '';
  return `sum ${b}(${rate('celery_task_failed_total', filter)}) / ${completedRate(filter, by)}`;
}

/**
 * Worker utilisation: busy pool slots ÷ pool size, 0–1. `celery_worker_pool_utilization_ratio` is the
 * heartbeat's `active` over the pool size read by remote control (`inspect stats`), so it exists
 * only for workers that answer remote control. The fleet line weights each worker by its pool size
 * (total busy slots ÷ total slots), which is what "add workers or not" needs.
 */
export function workerUtilisation(filter: string): { title: string; description: string; unit: Unit; queries: Query[] } {
  return {
    title: 'Worker utilisation',
    unit: 'percentunit',
    description:
      'Busy pool slots ÷ pool size per worker (heartbeat `active` over the pool size from remote control), and over all selected workers weighted by pool size. At 100 % new tasks wait for a free slot.',
    queries: [
      q(`max by (hostname) (celery_worker_pool_utilization_ratio{${filter}})`, '{{hostname}}'),
      q(fleetUtilisation(filter), 'all workers'),
    ],
  };
}

/** Total busy slots ÷ total pool slots of the workers that report a pool size. */
export function fleetUtilisation(filter: string): string {
  return `sum(celery_worker_pool_utilization_ratio{${filter}} * celery_worker_pool_max_concurrency{${filter}}) / sum(celery_worker_pool_max_concurrency{${filter}})`;
}
