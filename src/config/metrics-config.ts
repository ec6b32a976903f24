import type { Options } from 'yargs';
import { listOption, mappingOrList, type ArgvOf } from './argv.js';
import { DEFAULT_LATENCY_BUCKETS, DEFAULT_LONG_RUNNING_TASK_THRESHOLD, DEFAULT_QUEUE_WAIT_BUCKETS, DEFAULT_RUNTIME_BUCKETS } from './defaults.js';
import { ConfigError } from './errors.js';
import { parseBuckets, parseChoice, parseInteger, parseKeyValues, parseList, parseRegex, parseSeconds } from './parse.js';
import { parsePeriodicTasks, periodicOptions, type PeriodicTask } from './periodic.js';

export const workerOptions = {
  'worker-timeout': {
    type: 'number',
    describe: 'Seconds without a heartbeat before a worker counts as down (default: 2 × the worker’s heartbeat freq, as Celery does; 0 = never)',
    group: 'Workers:',
  },
  'purge-offline-worker-metrics': {
    type: 'number',
    default: 600,
    describe: 'Seconds after a worker (or producer) was last seen before every series with its hostname is removed (0 = never)',
    group: 'Workers:',
  },
  'strip-hostname-prefix': {
    type: 'boolean',
    default: false,
    describe: 'Label workers by host only ("host" instead of "worker@host"), as the Python celery-exporter does',
    group: 'Workers:',
  },
} as const satisfies Record<string, Options>;

export const metricsOptions = {
  'runtime-buckets': {
    type: 'string',
    default: DEFAULT_RUNTIME_BUCKETS.join(','),
    describe: 'Buckets (seconds) of celery_task_runtime_seconds',
    group: 'Metrics:',
  },
  'queue-wait-buckets': {
    type: 'string',
    default: DEFAULT_QUEUE_WAIT_BUCKETS.join(','),
    describe: 'Buckets (seconds) of celery_task_queue_wait_seconds and celery_task_prefetch_wait_seconds',
    group: 'Metrics:',
  },
  'latency-buckets': {
    type: 'string',
    default: DEFAULT_LATENCY_BUCKETS.join(','),
    describe: 'Buckets (seconds) of celery_task_latency_seconds',
    group: 'Metrics:',
  },
  'static-label': { type: 'string', array: true, describe: 'Label k=v added to every metric, repeatable', group: 'Metrics:' },
  'metric-names': {
    type: 'string',
    default: 'default',
    describe: '"celery-exporter" also exposes celery_task_runtime (the Python exporter’s name) for its dashboards',
    group: 'Metrics:',
  },
  'max-tracked-tasks': {
    type: 'number',
    default: 100_000,
    describe: 'In-flight tasks remembered between their events; the oldest are evicted beyond this',
    group: 'Metrics:',
  },
  'tracked-task-ttl': { type: 'number', default: 86_400, describe: 'Seconds a task may stay in flight before it is forgotten', group: 'Metrics:' },
  'max-label-length': {
    type: 'number',
    default: 200,
    describe: 'Longest label value taken from an event (task names, hostnames, queues, exceptions); longer ones are cut',
    group: 'Metrics:',
  },
} as const satisfies Record<string, Options>;

/** Listed after the queue options (its place in --help and in --print-config). */
export const longRunningOption = {
  'long-running-task-threshold': {
    type: 'number',
    default: DEFAULT_LONG_RUNNING_TASK_THRESHOLD,
    describe: 'Seconds after which a started task counts in celery_tasks_running_longer_than_threshold (0 = no such series)',
    group: 'Metrics:',
  },
} as const satisfies Record<string, Options>;

export const cardinalityOptions = {
  'task-name-allow': {
    type: 'string',
    describe: 'Regex (whole name): only matching task names get their own series; others are counted under name="__other__"',
    group: 'Cardinality:',
  },
  'task-name-deny': { type: 'string', describe: 'Regex (whole name): matching task names are counted under name="__other__"', group: 'Cardinality:' },
  'max-task-names': {
    type: 'number',
    default: 1000,
    describe: 'Distinct task names with their own series; later ones are counted under name="__other__" (0 = no limit)',
    group: 'Cardinality:',
  },
  'max-exception-classes': {
    type: 'number',
    default: 100,
    describe: 'Distinct exception classes with their own celery_task_failed_total series; later ones are counted under exception="__other__" (0 = no limit)',
    group: 'Cardinality:',
  },
  'drop-label': {
    type: 'string',
    array: true,
    describe: 'Leave a label out of the task metrics: hostname (pods with random names), exception; repeatable',
    group: 'Cardinality:',
  },
  'max-series': {
    type: 'number',
    default: 100_000,
    describe: 'Cap on label sets across all metrics; new ones beyond it are dropped and counted (0 = no cap)',
    group: 'Cardinality:',
  },
  'max-workers': { type: 'number', default: 5000, describe: 'Most workers tracked at once; events of further workers are ignored and counted', group: 'Cardinality:' },
  'max-queues': { type: 'number', default: 1000, describe: 'Most queues tracked at once; further queue names are ignored and counted', group: 'Cardinality:' },
} as const satisfies Record<string, Options>;

export interface WorkersConfig {
  /** Seconds; undefined = twice the worker's heartbeat interval. */
  timeout: number | undefined;
  purgeAfter: number;
  stripHostnamePrefix: boolean;
}

export interface MetricsConfig {
  runtimeBuckets: number[];
  queueWaitBuckets: number[];
  latencyBuckets: number[];
  staticLabels: Record<string, string>;
  celeryExporterNames: boolean;
  maxTrackedTasks: number;
  trackedTaskTtl: number;
  maxLabelLength: number;
  /** Seconds after which a running task counts as long-running; 0 = off. */
  longRunningTaskThreshold: number;
  taskNameAllow: RegExp | undefined;
  taskNameDeny: RegExp | undefined;
  maxTaskNames: number;
  maxExceptionClasses: number;
  dropLabels: Array<'hostname' | 'exception'>;
  maxSeries: number;
  maxWorkers: number;
  maxQueues: number;
  /** --periodic-task declarations. */
  periodicTasks: PeriodicTask[];
}

export function buildWorkersConfig(argv: ArgvOf<typeof workerOptions>): WorkersConfig {
  const timeout = argv['worker-timeout'];
  return {
    timeout: timeout === undefined || timeout === null ? undefined : parseSeconds('worker-timeout', timeout),
    purgeAfter: parseSeconds('purge-offline-worker-metrics', argv['purge-offline-worker-metrics']),
    stripHostnamePrefix: argv['strip-hostname-prefix'] === true,
  };
}

type MetricsArgv = ArgvOf<typeof metricsOptions & typeof longRunningOption & typeof cardinalityOptions & typeof periodicOptions>;

export function buildMetricsConfig(argv: MetricsArgv): MetricsConfig {
  const staticLabels = parseKeyValues('static-label', listOption(argv, 'static-label'), /^[a-zA-Z_][a-zA-Z0-9_]*$/);
  for (const k of Object.keys(staticLabels)) {
    if (k.startsWith('__')) throw new ConfigError('static-label', `label names starting with "__" are reserved ("${k}")`);
  }
  return {
    runtimeBuckets: parseBuckets('runtime-buckets', argv['runtime-buckets']),
    queueWaitBuckets: parseBuckets('queue-wait-buckets', argv['queue-wait-buckets']),
    latencyBuckets: parseBuckets('latency-buckets', argv['latency-buckets']),
    staticLabels,
    celeryExporterNames: parseChoice('metric-names', argv['metric-names'], ['default', 'celery-exporter']) === 'celery-exporter',
    maxTrackedTasks: parseInteger('max-tracked-tasks', argv['max-tracked-tasks'], 1),
    trackedTaskTtl: parseSeconds('tracked-task-ttl', argv['tracked-task-ttl'], { allowZero: false }),
    maxLabelLength: parseInteger('max-label-length', argv['max-label-length'], 8, 10_000),
    longRunningTaskThreshold: parseSeconds('long-running-task-threshold', argv['long-running-task-threshold']),
    taskNameAllow: parseRegex('task-name-allow', argv['task-name-allow']),
    taskNameDeny: parseRegex('task-name-deny', argv['task-name-deny']),
    maxTaskNames: parseInteger('max-task-names', argv['max-task-names'], 0),
    maxExceptionClasses: parseInteger('max-exception-classes', argv['max-exception-classes'], 0),
    dropLabels: parseList(listOption(argv, 'drop-label')).map((l) => parseChoice('drop-label', l, ['hostname', 'exception'] as const)),
    maxSeries: parseInteger('max-series', argv['max-series'], 0),
    maxWorkers: parseInteger('max-workers', argv['max-workers'], 1),
    maxQueues: parseInteger('max-queues', argv['max-queues'], 1),
    periodicTasks: parsePeriodicTasks(mappingOrList(argv, 'periodic-task'), mappingOrList(argv, 'periodic-task-tolerance')),
  };
}
