import { HOSTNAME, JOB, workerUtilisation } from './common.js';
import { dashboard, q, rate, row, sel, stat, table, timeseries, type Json } from './lib.js';

const f = sel('job', 'hostname');
const utilisation = workerUtilisation(f);

export const workers: Json = dashboard({
  uid: 'celery-workers',
  title: 'Celery / Workers',
  description: 'Worker liveness, utilisation, throughput, load and heartbeat age.',
  variables: [JOB, HOSTNAME],
  panels: [
    row('Now'),
    stat({ title: 'Workers up', unit: 'short', w: 6, description: 'Workers whose heartbeats arrive.', queries: [q(`sum(celery_worker_up{${f}})`)] }),
    stat({ title: 'Workers down', unit: 'short', w: 6, description: 'Workers known but down (offline or heartbeats missed), until purged.', queries: [q(`count(celery_worker_up{${f}}) - sum(celery_worker_up{${f}})`)] }),
    stat({ title: 'Tasks executing', unit: 'short', w: 6, description: 'Tasks running on the selected workers.', queries: [q(`sum(celery_worker_tasks_active{${f}})`)] }),
    stat({ title: 'Tasks processed per second', unit: 'ops', w: 6, description: 'Tasks the selected workers finished per second (heartbeat `processed`).', queries: [q(`sum(${rate('celery_worker_tasks_processed', f)})`)] }),
    table({
      title: 'Workers',
      unit: 'short',
      description: 'One row per worker: up, tasks executing, tasks processed since it started, 1-minute load, seconds since its last heartbeat, Celery version.',
      queries: [
        { expr: `max by (hostname) (celery_worker_up{${f}})`, instant: true },
        { expr: `max by (hostname) (celery_worker_tasks_active{${f}})`, instant: true },
        { expr: `max by (hostname) (celery_worker_tasks_processed{${f}})`, instant: true },
        { expr: `max by (hostname) (celery_worker_load_average{${f}, period="1m"})`, instant: true },
        { expr: `time() - max by (hostname) (celery_worker_last_heartbeat_timestamp_seconds{${f}})`, instant: true },
        { expr: `max by (hostname, sw_ver) (celery_worker_info{${f}})`, instant: true },
      ],
      columnNames: { A: 'Up', B: 'Executing', C: 'Processed', D: 'Load 1m', E: 'Heartbeat age', F: 'Info' },
      columnUnits: { A: 'bool_yes_no', E: 's' },
    }),

    row('Utilisation and throughput'),
    timeseries({ title: utilisation.title, unit: utilisation.unit, min: 0, stack: true, description: utilisation.description, queries: [q(utilisation.expr, '{{hostname}}')] }),
    timeseries({
      title: 'Tasks processed per second by worker',
      unit: 'ops',
      min: 0,
      description: 'Rate of the heartbeat’s `processed` counter (restarts are handled as counter resets).',
      queries: [q(`sum by (hostname) (${rate('celery_worker_tasks_processed', f)})`, '{{hostname}}')],
    }),

    row('Health'),
    timeseries({
      title: 'Up',
      unit: 'bool_yes_no',
      min: 0,
      max: 1,
      w: 8,
      description: '1 while heartbeats arrive; 0 after worker-offline or a missed heartbeat timeout.',
      queries: [q(`max by (hostname) (celery_worker_up{${f}})`, '{{hostname}}')],
    }),
    timeseries({
      title: 'Load average (1m)',
      unit: 'short',
      min: 0,
      w: 8,
      description: 'Host load average reported in heartbeats.',
      queries: [q(`max by (hostname) (celery_worker_load_average{${f}, period="1m"})`, '{{hostname}}')],
    }),
    timeseries({
      title: 'Heartbeat age',
      unit: 's',
      min: 0,
      w: 8,
      description: 'Seconds since each worker’s last heartbeat (worker clock, so it includes clock skew).',
      queries: [q(`time() - max by (hostname) (celery_worker_last_heartbeat_timestamp_seconds{${f}})`, '{{hostname}}')],
    }),
    // Reserved/prefetched tasks and pool size per worker come with the remote-control metrics.
  ],
});
