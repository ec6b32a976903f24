import { Counter } from './counter.js';
import { Gauge } from './gauge.js';
import type { MetricRegistry } from './registry.js';

/**
 * Worker gauges read by remote control (inspect stats/active_queues/reserved/scheduled/ping),
 * polled in the background. Every per-worker series carries `hostname`, so the offline-worker
 * purge removes them with the rest of the worker's series.
 */
export class InspectMetrics {
  readonly maxConcurrency: Gauge;
  readonly processes: Gauge;
  readonly prefetchCount: Gauge;
  readonly reserved: Gauge;
  readonly scheduled: Gauge;
  readonly uptime: Gauge;
  readonly cpuUser: Counter;
  readonly cpuSystem: Counter;
  readonly maxRss: Gauge;
  readonly pingSuccess: Gauge;
  readonly pingDuration: Gauge;
  readonly utilization: Gauge;
  readonly queueWorkers: Gauge;
  readonly queueProcesses: Gauge;
  readonly workerQueues: Gauge;

  constructor(reg: MetricRegistry) {
    // Registration order is render order (the golden file): keep it.
    const gauge = (name: string, help: string, labelNames = ['hostname']) => reg.register(new Gauge({ name, help, labelNames }));
    const counter = (name: string, help: string) => reg.register(new Counter({ name, help, labelNames: ['hostname'] }));
    this.maxConcurrency = gauge('celery_worker_pool_max_concurrency', 'Task slots of the worker pool (inspect stats pool.max-concurrency).');
    this.processes = gauge(
      'celery_worker_pool_processes',
      'Child processes of the worker pool (inspect stats pool.processes); absent for pools without processes (threads, gevent, eventlet).',
    );
    this.prefetchCount = gauge('celery_worker_prefetch_count', 'Current prefetch (QoS) limit of the worker (inspect stats prefetch_count).');
    this.reserved = gauge('celery_worker_tasks_reserved', 'Tasks the worker has received and not started (inspect reserved).');
    this.scheduled = gauge('celery_worker_tasks_scheduled', 'ETA/countdown tasks the worker holds until they are due (inspect scheduled).');
    this.uptime = gauge('celery_worker_uptime_seconds', 'Seconds since the worker started (inspect stats uptime).');
    this.cpuUser = counter(
      'celery_worker_cpu_user_seconds_total',
      'User CPU time of the worker main process (inspect stats rusage.utime; pool children not included).',
    );
    this.cpuSystem = counter(
      'celery_worker_cpu_system_seconds_total',
      'System CPU time of the worker main process (inspect stats rusage.stime; pool children not included).',
    );
    this.maxRss = gauge(
      'celery_worker_max_resident_memory_bytes',
      'Peak resident memory of the worker main process (inspect stats rusage.maxrss, KiB on Linux, converted to bytes).',
    );
    this.pingSuccess = gauge('celery_worker_ping_success', '1 when the worker answered the last remote-control ping within the reply window, else 0.');
    this.pingDuration = gauge('celery_worker_ping_duration_seconds', 'Time from sending the last ping to the worker’s reply.');
    this.utilization = gauge('celery_worker_pool_utilization_ratio', 'Busy task slots ÷ pool size: heartbeat "active" over pool max-concurrency (0 to 1).');
    this.queueWorkers = gauge('celery_active_worker_count', 'Workers consuming from the queue (inspect active_queues).', ['queue_name']);
    this.queueProcesses = gauge(
      'celery_active_process_count',
      'Pool processes of the workers consuming from the queue (sum of their pool.processes; pools without processes add none).',
      ['queue_name'],
    );
    // Joins per-worker gauges (busy slots, pool size) to queues in PromQL: per-queue saturation.
    this.workerQueues = gauge('celery_worker_queue_info', 'Queues each worker consumes from (inspect active_queues); always 1.', ['hostname', 'queue_name']);
  }

  /** Families with one series per worker, in the order the poller fills them. */
  get perWorker(): Array<Gauge | Counter> {
    return [
      this.maxConcurrency,
      this.processes,
      this.prefetchCount,
      this.reserved,
      this.scheduled,
      this.uptime,
      this.cpuUser,
      this.cpuSystem,
      this.maxRss,
      this.pingSuccess,
      this.pingDuration,
      this.utilization,
    ];
  }
}

/**
 * Why a remote-control reply was skipped (src/remote/reply.ts decides); a small fixed set, the
 * `reason` label of celery_exporter_control_replies_invalid_total. Declared here, below the
 * remote-control code, so this metrics layer needs nothing from it.
 */
export const REPLY_INVALID_REASONS = ['envelope', 'encoding', 'content_type', 'compression', 'json', 'shape'] as const;
export type ReplyInvalidReason = (typeof REPLY_INVALID_REASONS)[number];

/** The exporter's own remote-control counters. */
export class ControlSelfMetrics {
  readonly enableEventsBroadcasts: Counter;
  readonly enableEventsOnSight: Counter;
  readonly invalidReplies: Counter;

  constructor(reg: MetricRegistry) {
    this.enableEventsBroadcasts = reg.register(
      new Counter({
        name: 'celery_exporter_enable_events_broadcasts_total',
        help: 'enable_events remote-control broadcasts sent to the workers.',
      }),
    );
    this.enableEventsBroadcasts.labels();
    this.enableEventsOnSight = reg.register(
      new Counter({
        name: 'celery_exporter_enable_events_new_worker_requests_total',
        help: 'enable_events requests sent to one newly seen worker (online, or back after being down), by its answer: enabled (task events were off), already_enabled, error, no_reply (asked a few times, then left to the periodic broadcast).',
        labelNames: ['outcome'],
      }),
    );
    for (const o of ['enabled', 'already_enabled', 'error', 'no_reply']) this.enableEventsOnSight.labels(o);
    this.invalidReplies = reg.register(
      new Counter({
        name: 'celery_exporter_control_replies_invalid_total',
        help: 'Remote-control replies skipped because they could not be read, by reason.',
        labelNames: ['reason'],
      }),
    );
    // Every reason at 0 from the start, so rate() and the dashboard panel have data on a healthy exporter.
    for (const r of REPLY_INVALID_REASONS) this.invalidReplies.labels(r);
  }
}
