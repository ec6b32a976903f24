import { completedRate, failureRatio, fleetUtilisation, JOB, QUEUE, workerUtilisation } from './common.js';
import { dashboard, q, quantile, rate, row, sel, stat, timeseries, type Json } from './lib.js';

const f = sel('job', 'queue_name');
const job = sel('job');
const utilisation = workerUtilisation(job);
const percentiles = (histogram: string) =>
  [0.5, 0.95, 0.99].map((p) => q(quantile(p, histogram, f), `p${p * 100}`));

export const overview: Json = dashboard({
  uid: 'celery-overview',
  title: 'Celery / Overview',
  description: 'Workers, utilisation, throughput, success rate, queue depth and latency percentiles of a Celery deployment.',
  variables: [JOB, QUEUE],
  panels: [
    row('Now'),
    stat({ title: 'Workers up', unit: 'short', w: 3, description: 'Workers whose heartbeats arrive (celery_worker_up = 1).', queries: [q(`sum(celery_worker_up{${job}})`)] }),
    stat({ title: 'Tasks executing', unit: 'short', w: 3, description: 'Tasks running on all workers now (heartbeat `active`).', queries: [q(`sum(celery_worker_tasks_active{${job}})`)] }),
    stat({
      title: 'Pool utilisation',
      unit: 'percentunit',
      w: 3,
      min: 0,
      max: 1,
      description: 'Busy slots ÷ pool slots over all workers that report a pool size (remote control). Near 100 % tasks wait for a free slot.',
      queries: [q(fleetUtilisation(job))],
    }),
    stat({ title: 'Throughput', unit: 'ops', w: 3, description: 'Tasks completed (succeeded + failed) per second.', queries: [q(completedRate(f))] }),
    stat({
      title: 'Success rate',
      unit: 'percentunit',
      w: 3,
      min: 0,
      max: 1,
      description: 'Succeeded ÷ (succeeded + failed). Retries are neither.',
      queries: [q(`sum(${rate('celery_task_succeeded_total', f)}) / ${completedRate(f)}`)],
    }),
    stat({ title: 'Messages waiting', unit: 'short', w: 3, description: 'Messages in the broker queues, all priorities (celery_queue_length).', queries: [q(`sum(celery_queue_length{${f}})`)] }),
    stat({
      title: 'Oldest pending task',
      unit: 's',
      w: 3,
      description: 'Age of the oldest task sent and not yet received by any worker, over the selected queues.',
      queries: [q(`max(celery_queue_oldest_pending_age_seconds{${f}})`)],
    }),
    stat({
      title: 'Queues without workers',
      unit: 'short',
      w: 3,
      description: 'Selected queues that no worker consumes (remote control `inspect active_queues`): tasks sent there never run.',
      queries: [q(`sum(celery_active_worker_count{${f}} == bool 0)`)],
    }),

    row('Throughput'),
    timeseries({
      title: 'Tasks by outcome',
      unit: 'ops',
      min: 0,
      description: 'Task events per second: succeeded, failed, retried, rejected, revoked.',
      queries: ['succeeded', 'failed', 'retried', 'rejected', 'revoked'].map((s) => q(`sum(${rate(`celery_task_${s}_total`, f)})`, s)),
    }),
    timeseries({
      title: 'Failure ratio by queue',
      unit: 'percentunit',
      min: 0,
      max: 1,
      description: 'Failed ÷ (succeeded + failed) per queue.',
      queries: [q(failureRatio(f, ['queue_name']), '{{queue_name}}')],
    }),

    row('Queues'),
    timeseries({
      title: 'Queue depth',
      unit: 'short',
      min: 0,
      description: 'Messages waiting per queue (reserved/prefetched messages not included).',
      queries: [q(`sum by (queue_name) (celery_queue_length{${f}})`, '{{queue_name}}')],
    }),
    timeseries({
      title: 'Oldest pending task by queue',
      unit: 's',
      min: 0,
      description: 'How long the oldest task sent to each queue has waited for a worker to receive it.',
      queries: [q(`max by (queue_name) (celery_queue_oldest_pending_age_seconds{${f}})`, '{{queue_name}}')],
    }),

    row('Latency'),
    timeseries({ title: 'Runtime percentiles', unit: 's', min: 0, w: 8, description: 'Task execution time, all tasks of the selected queues.', queries: percentiles('celery_task_runtime_seconds') }),
    timeseries({
      title: 'Queue wait percentiles',
      unit: 's',
      min: 0,
      w: 8,
      description: 'Time from task-sent to task-started, ETA/countdown excluded.',
      queries: percentiles('celery_task_queue_wait_seconds'),
    }),
    timeseries({
      title: 'End-to-end latency percentiles',
      unit: 's',
      min: 0,
      w: 8,
      description: 'Time from the first task-sent to the final succeeded/failed: what the caller waits.',
      queries: percentiles('celery_task_latency_seconds'),
    }),

    row('Workers'),
    timeseries({
      title: 'Workers',
      unit: 'short',
      min: 0,
      w: 8,
      description: 'Workers up, and workers known (up or down, until purged).',
      queries: [q(`sum(celery_worker_up{${job}})`, 'up'), q(`count(celery_worker_up{${job}})`, 'known')],
    }),
    timeseries({ ...utilisation, min: 0, max: 1, w: 8 }),
    timeseries({
      title: 'Tasks executing by worker',
      unit: 'short',
      min: 0,
      w: 8,
      stack: true,
      description: 'Tasks running on each worker (heartbeat `active`), stacked.',
      queries: [q(`sum by (hostname) (celery_worker_tasks_active{${job}})`, '{{hostname}}')],
    }),
  ],
});
