import { completedRate, taskVariables, workerUtilisation } from './common.js';
import { dashboard, mean, q, quantile, rate, row, sel, table, text, timeseries, type Json } from './lib.js';

const f = sel('job', 'queue_name', 'name');
const job = sel('job');
const utilisation = workerUtilisation(job);

/**
 * The operator's first question when things are slow: per task, is the time spent waiting in the
 * queue or executing — and are the workers busy?
 */
export const time: Json = dashboard({
  uid: 'celery-time',
  title: 'Celery / Where does the time go',
  description: 'Per task: queue wait vs execution time, next to worker utilisation.',
  variables: taskVariables,
  panels: [
    text({
      title: 'How to read this',
      description: 'Decision guide for the panels below.',
      h: 4,
      markdown: [
        '**Queue wait high and worker utilisation near 100 %** → not enough capacity: add workers or concurrency for that queue.',
        '**Queue wait high and utilisation low** → tasks are held elsewhere: prefetched behind long tasks (see prefetch wait), ETA, or routed to a queue nobody consumes.',
        '**Queue wait low and runtime high** → the task itself is slow: profile it, or move it to its own queue.',
      ].join('\n\n'),
    }),
    table({
      title: 'Per task over the selected range',
      unit: 's',
      h: 9,
      description: 'One row per task and queue: completions per second, mean and p95 queue wait, mean and p95 runtime, p95 end-to-end latency, and the worker slots the task keeps busy on average (runtime seconds per second).',
      queries: [
        { expr: completedRate(f, ['name', 'queue_name'], '$__range'), instant: true },
        { expr: `sum by (name, queue_name) (rate(celery_task_queue_wait_seconds_sum{${f}}[$__range])) / sum by (name, queue_name) (rate(celery_task_queue_wait_seconds_count{${f}}[$__range]))`, instant: true },
        { expr: `histogram_quantile(0.95, sum by (le, name, queue_name) (rate(celery_task_queue_wait_seconds_bucket{${f}}[$__range])))`, instant: true },
        { expr: `sum by (name, queue_name) (rate(celery_task_runtime_seconds_sum{${f}}[$__range])) / sum by (name, queue_name) (rate(celery_task_runtime_seconds_count{${f}}[$__range]))`, instant: true },
        { expr: `histogram_quantile(0.95, sum by (le, name, queue_name) (rate(celery_task_runtime_seconds_bucket{${f}}[$__range])))`, instant: true },
        { expr: `histogram_quantile(0.95, sum by (le, name, queue_name) (rate(celery_task_latency_seconds_bucket{${f}}[$__range])))`, instant: true },
        { expr: `sum by (name, queue_name) (rate(celery_task_runtime_seconds_sum{${f}}[$__range]))`, instant: true },
      ],
      columnNames: { A: 'Completions/s', B: 'Wait (mean)', C: 'Wait p95', D: 'Runtime (mean)', E: 'Runtime p95', F: 'End-to-end p95', G: 'Busy slots' },
      columnUnits: { A: 'ops', G: 'short' },
    }),

    row('Waiting vs executing'),
    timeseries({
      title: 'Queue wait p95 by task',
      unit: 's',
      min: 0,
      w: 8,
      description: 'Time from task-sent to task-started (ETA excluded), 95th percentile.',
      queries: [q(quantile(0.95, 'celery_task_queue_wait_seconds', f, ['name']), '{{name}}')],
    }),
    timeseries({
      title: 'Prefetch wait p95 by task',
      unit: 's',
      min: 0,
      w: 8,
      description: 'The part of the queue wait spent prefetched at a worker (task-received → task-started).',
      queries: [q(quantile(0.95, 'celery_task_prefetch_wait_seconds', f, ['name']), '{{name}}')],
    }),
    timeseries({
      title: 'Runtime p95 by task',
      unit: 's',
      min: 0,
      w: 8,
      description: 'Execution time, 95th percentile.',
      queries: [q(quantile(0.95, 'celery_task_runtime_seconds', f, ['name']), '{{name}}')],
    }),
    timeseries({
      title: 'Mean queue wait vs mean runtime',
      unit: 's',
      min: 0,
      w: 24,
      description: 'For each task, the mean time waiting in the queue next to the mean time executing.',
      queries: [
        q(mean('celery_task_queue_wait_seconds', f, ['name']), '{{name}} waiting'),
        q(mean('celery_task_runtime_seconds', f, ['name']), '{{name}} executing'),
      ],
    }),

    row('Worker capacity'),
    timeseries({
      title: 'Worker slots busy by task',
      unit: 'short',
      min: 0,
      stack: true,
      w: 8,
      description: 'Execution seconds per second of each task = the worker pool slots it keeps busy on average. The stack is where the workers’ time goes.',
      queries: [q(`sum by (name) (${rate('celery_task_runtime_seconds_sum', f)})`, '{{name}}')],
    }),
    timeseries({ ...utilisation, min: 0, max: 1, w: 8 }),
    timeseries({
      title: 'Tasks prefetched by worker',
      unit: 'short',
      min: 0,
      w: 8,
      description: 'Tasks each worker has received and not started (remote control `inspect reserved`). High while utilisation is high: tasks queue up behind busy slots at the worker, where other workers cannot take them.',
      queries: [q(`sum by (hostname) (celery_worker_tasks_reserved{${job}})`, '{{hostname}}')],
    }),
  ],
});
