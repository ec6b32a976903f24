import { Counter } from './counter.js';
import { Histogram } from './histogram.js';
import type { MetricRegistry } from './registry.js';

export interface TaskMetricsOptions {
  runtimeBuckets: readonly number[];
  queueWaitBuckets: readonly number[];
  latencyBuckets: readonly number[];
  /** Also expose the Python celery-exporter's `celery_task_runtime` histogram. */
  celeryExporterNames: boolean;
  /** Labels left out of the task metrics (--drop-label): hostname, exception. */
  dropLabels?: ReadonlySet<'hostname' | 'exception'>;
  /** Exception classes with their own series; later ones fold into __other__ (0 = no limit). */
  maxExceptionClasses?: number;
}

/** The celery_task_* families, registered in this order (the order of /metrics). */
export interface TaskFamilies {
  sent: Counter;
  received: Counter;
  started: Counter;
  succeeded: Counter;
  failed: Counter;
  rejected: Counter;
  revoked: Counter;
  retried: Counter;
  runtime: Histogram;
  queueWait: Histogram;
  prefetchWait: Histogram;
  latency: Histogram;
  compatRuntime: Histogram | undefined;
}

const HOST_LABELS = ['name', 'hostname', 'queue_name'] as const;

type Keep = (names: readonly string[]) => string[];

/** Registers the task families on `reg`; the labels --drop-label names are left out. */
export function registerTaskFamilies(reg: MetricRegistry, opts: TaskMetricsOptions): TaskFamilies {
  const dropped = opts.dropLabels ?? new Set();
  const keep: Keep = (names) => names.filter((n) => !dropped.has(n as 'hostname' | 'exception'));
  const counters = registerCounters(reg, keep);
  return { ...counters, ...registerHistograms(reg, opts, keep) };
}

function registerCounters(reg: MetricRegistry, keep: Keep) {
  const counter = (event: string, help: string, labelNames: readonly string[] = HOST_LABELS) =>
    reg.register(new Counter({ name: `celery_task_${event}_total`, help, labelNames: keep(labelNames) }));
  return {
    sent: counter('sent', 'Tasks published (task-sent events; needs task_send_sent_event on producers).'),
    received: counter('received', 'Tasks received by a worker (task-received events).'),
    started: counter('started', 'Tasks started by a worker (task-started events).'),
    succeeded: counter('succeeded', 'Tasks that succeeded (task-succeeded events).'),
    failed: counter('failed', 'Tasks that failed, by exception class (task-failed events).', [
      'name',
      'hostname',
      'exception',
      'queue_name',
    ]),
    rejected: counter('rejected', 'Tasks rejected by a worker (task-rejected events).'),
    revoked: counter('revoked', 'Tasks revoked (task-revoked events).'),
    retried: counter('retried', 'Task executions that failed and will be retried (task-retried events).'),
  };
}

function registerHistograms(reg: MetricRegistry, opts: TaskMetricsOptions, keep: Keep) {
  const histogram = (name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) =>
    reg.register(new Histogram({ name, help, labelNames, buckets }));
  return {
    runtime: histogram(
      'celery_task_runtime_seconds',
      'Task execution time: the runtime Celery reports for succeeded tasks, started→failed for failed ones.',
      ['name', 'queue_name', 'state'],
      opts.runtimeBuckets,
    ),
    queueWait: histogram(
      'celery_task_queue_wait_seconds',
      'Time from task-sent to task-started, excluding any ETA/countdown delay (needs task-sent events).',
      ['name', 'queue_name'],
      opts.queueWaitBuckets,
    ),
    prefetchWait: histogram(
      'celery_task_prefetch_wait_seconds',
      'Time from task-received to task-started: how long a task waited prefetched at the worker (ETA excluded).',
      ['name', 'queue_name'],
      opts.queueWaitBuckets,
    ),
    latency: histogram(
      'celery_task_latency_seconds',
      'Time from the first task-sent to task-succeeded or task-failed, retries included, ETA delay excluded.',
      ['name', 'queue_name'],
      opts.latencyBuckets,
    ),
    compatRuntime: opts.celeryExporterNames
      ? histogram(
          'celery_task_runtime',
          'Runtime of succeeded tasks in seconds, under the Python celery-exporter name (--metric-names celery-exporter).',
          keep(HOST_LABELS),
          opts.runtimeBuckets,
        )
      : undefined,
  };
}
