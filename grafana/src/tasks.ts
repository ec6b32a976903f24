import { completedRate, failureRatio, taskVariables } from './common.js';
import { periodicPanels } from './periodic.js';
import { dashboard, mean, q, quantile, rate, row, sel, table, timeseries, type Json } from './lib.js';

const f = sel('job', 'queue_name', 'name');
const byTask = (phis: number[], histogram: string) =>
  phis.map((p) => q(quantile(p, histogram, f, ['name']), `{{name}} p${p * 100}`));

export const tasks: Json = dashboard({
  uid: 'celery-tasks',
  title: 'Celery / Tasks',
  description: 'Per task: rates, failures by exception, retries, runtime, queue wait and end-to-end latency; periodic tasks’ last success and schedule.',
  variables: taskVariables,
  panels: [
    row('Rates'),
    timeseries({
      title: 'Completions by task',
      unit: 'ops',
      min: 0,
      description: 'Tasks completed (succeeded + failed) per second.',
      queries: [q(completedRate(f, ['name']), '{{name}}')],
    }),
    timeseries({
      title: 'Failures by task and exception',
      unit: 'ops',
      min: 0,
      description: 'Failed executions per second, by exception class.',
      queries: [q(`sum by (name, exception) (${rate('celery_task_failed_total', f)})`, '{{name}} {{exception}}')],
    }),
    timeseries({
      title: 'Failure ratio by task',
      unit: 'percentunit',
      min: 0,
      max: 1,
      description: 'Failed ÷ (succeeded + failed) per task; 0 for tasks that did not fail.',
      queries: [q(failureRatio(f, ['name']), '{{name}}')],
    }),
    timeseries({
      title: 'Retries, rejections and revocations',
      unit: 'ops',
      min: 0,
      description: 'Executions that failed and will be retried; tasks rejected by a worker; tasks revoked (or expired).',
      queries: ['retried', 'rejected', 'revoked'].map((s) => q(`sum by (name) (${rate(`celery_task_${s}_total`, f)})`, `{{name}} ${s}`)),
    }),
    timeseries({
      title: 'Sent, received, started',
      unit: 'ops',
      min: 0,
      w: 24,
      description: 'Task flow: published (task-sent), taken by a worker (task-received), started. A gap between sent and received is a growing backlog.',
      queries: ['sent', 'received', 'started'].map((s) => q(`sum by (name) (${rate(`celery_task_${s}_total`, f)})`, `{{name}} ${s}`)),
    }),
    timeseries({
      title: 'Revocations and rejections by reason',
      unit: 'ops',
      min: 0,
      w: 24,
      description:
        'Revoked tasks by reason (terminated: revoke --terminate of a running task; expired: past its expires; revoked: discarded before it started) and rejected tasks by what the worker did with them (requeue or discard).',
      queries: [
        q(`sum by (name, reason) (${rate('celery_task_revocations_total', sel('job', 'name'))})`, '{{name}} revoked: {{reason}}'),
        q(`sum by (name, reason) (${rate('celery_task_rejections_total', sel('job', 'name'))})`, '{{name}} rejected: {{reason}}'),
      ],
    }),

    row('Latency'),
    timeseries({ title: 'Runtime percentiles by task', unit: 's', min: 0, description: 'Execution time per task (succeeded and failed).', queries: byTask([0.5, 0.95, 0.99], 'celery_task_runtime_seconds') }),
    timeseries({
      title: 'Mean runtime by outcome',
      unit: 's',
      min: 0,
      description: 'Mean execution time of succeeded vs failed executions: failures that are much slower point at timeouts.',
      queries: [q(mean('celery_task_runtime_seconds', f, ['name', 'state']), '{{name}} {{state}}')],
    }),
    timeseries({ title: 'Queue wait percentiles by task', unit: 's', min: 0, w: 8, description: 'task-sent → task-started, ETA/countdown excluded.', queries: byTask([0.5, 0.95], 'celery_task_queue_wait_seconds') }),
    timeseries({
      title: 'Prefetch wait percentiles by task',
      unit: 's',
      min: 0,
      w: 8,
      description: 'task-received → task-started: the part of the wait spent prefetched at a worker, behind other tasks.',
      queries: byTask([0.5, 0.95], 'celery_task_prefetch_wait_seconds'),
    }),
    timeseries({
      title: 'End-to-end latency percentiles by task',
      unit: 's',
      min: 0,
      w: 8,
      description: 'First task-sent → final succeeded/failed, retries included.',
      queries: byTask([0.5, 0.95, 0.99], 'celery_task_latency_seconds'),
    }),

    row('Running now'),
    timeseries({
      title: 'Longest-running task by task',
      unit: 's',
      min: 0,
      description: 'How long the longest-running started, unfinished task of each name has run.',
      queries: [q(`max by (name, queue_name) (celery_task_oldest_active_age_seconds{${f}})`, '{{name}} ({{queue_name}})')],
    }),
    timeseries({
      title: 'Tasks running longer than the threshold',
      unit: 'short',
      min: 0,
      description: 'Started, unfinished tasks older than the exporter’s --long-running-task-threshold.',
      queries: [q(`sum by (name, queue_name) (celery_tasks_running_longer_than_threshold{${f}})`, '{{name}} ({{queue_name}})')],
    }),

    row('Failures in the selected range'),
    table({
      title: 'Failures by task and exception',
      unit: 'short',
      description: 'Failed executions over the dashboard’s time range, by task and exception class.',
      queries: [{ expr: `sum by (name, exception) (increase(celery_task_failed_total{${f}}[$__range]))`, instant: true }],
      columnNames: { A: 'Failures' },
    }),
    ...periodicPanels,
  ],
});
