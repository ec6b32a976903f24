import type { Options } from 'yargs';
import { amqpOptions } from './amqp-config.js';
import { brokerTlsOptions } from './broker-tls.js';
import {
  DEFAULT_LATENCY_BUCKETS,
  DEFAULT_LONG_RUNNING_TASK_THRESHOLD,
  DEFAULT_QUEUE_WAIT_BUCKETS,
  DEFAULT_RUNTIME_BUCKETS,
} from './defaults.js';

/**
 * Every flag, once. Each has the environment twin CELERY_EXPORTER_<FLAG> (upper snake case) and
 * may appear in the --config file; precedence is flag > env > file > default.
 */
export const brokerOptions = {
  'broker-url': {
    alias: 'broker',
    type: 'string',
    describe:
      'Broker URL (redis://, rediss://, redis+socket://, sentinel://, amqp://, amqps://). Falls back to CELERY_BROKER_URL, then redis://localhost:6379/0',
    group: 'Broker:',
  },
  'broker-transport-option': {
    type: 'string',
    array: true,
    describe: 'kombu transport option k=v, repeatable (global_keyprefix, sep, priority_steps, visibility_timeout, master_name, …)',
    group: 'Broker:',
  },
  ...brokerTlsOptions,
} as const satisfies Record<string, Options>;

export const daemonOptions = {
  ...brokerOptions,
  ...amqpOptions,
  port: { type: 'number', default: 8888, describe: 'HTTP port for /metrics', group: 'HTTP:' },
  host: { type: 'string', default: '0.0.0.0', describe: 'Address to listen on', group: 'HTTP:' },
  'metrics-path': { type: 'string', default: '/metrics', describe: 'Path of the metrics endpoint', group: 'HTTP:' },
  'url-prefix': {
    type: 'string',
    default: '',
    describe: 'Serve every route under this path (e.g. /monitoring), for a reverse proxy',
    group: 'HTTP:',
  },
  'web-config-file': {
    type: 'string',
    describe: 'Prometheus exporter-toolkit web config (TLS, basic auth, headers, rate limit); re-read when it changes',
    group: 'HTTP:',
  },
  'http-max-connections': {
    type: 'number',
    default: 256,
    describe: 'Most HTTP connections open at once; past it the oldest idle connection is closed to make room',
    group: 'HTTP:',
  },
  'http-headers-timeout': {
    type: 'number',
    default: 10,
    describe: 'Seconds a new connection has to finish its TLS handshake and send its request headers',
    group: 'HTTP:',
  },
  'http-idle-timeout': {
    type: 'number',
    default: 60,
    describe: 'Seconds a keep-alive connection may wait for its next request, and a response may stall on a client that does not read',
    group: 'HTTP:',
  },
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
  'static-label': {
    type: 'string',
    array: true,
    describe: 'Label k=v added to every metric, repeatable',
    group: 'Metrics:',
  },
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
  'tracked-task-ttl': {
    type: 'number',
    default: 86_400,
    describe: 'Seconds a task may stay in flight before it is forgotten',
    group: 'Metrics:',
  },
  'max-label-length': {
    type: 'number',
    default: 200,
    describe: 'Longest label value taken from an event (task names, hostnames, queues, exceptions); longer ones are cut',
    group: 'Metrics:',
  },
  'state-file': {
    type: 'string',
    describe:
      'Keep counters, histograms, the worker table and in-flight tasks in this file across restarts (written atomically every --state-save-interval, after each scrape and at shutdown; loaded at start)',
    group: 'Continuity:',
  },
  'state-save-interval': {
    type: 'number',
    default: 30,
    describe: 'Seconds between periodic saves of --state-file (scrapes and shutdown also save)',
    group: 'Continuity:',
  },
  'state-scrape-save-min-interval': {
    type: 'number',
    default: 1,
    describe: 'Least seconds between two saves caused by scrapes; a scrape inside it waits (at most this long) for the next save before its response ends',
    group: 'Continuity:',
  },
  'reconcile-grace': {
    type: 'number',
    default: 30,
    describe: 'Seconds a tracked task that no answering worker reports (inspect active/reserved/scheduled) and that gets no event may stay before it is dropped',
    group: 'Continuity:',
  },
  queues: {
    type: 'string',
    array: true,
    describe: 'Queues to report on even before they are seen (comma-separated or repeated); more are discovered from events and the broker',
    group: 'Queues:',
  },
  'queue-poll-interval': {
    type: 'number',
    default: 15,
    describe: 'Seconds between background polls of the broker (queue depths, broker health)',
    group: 'Queues:',
  },
  'queue-poll-timeout': {
    type: 'number',
    default: 10,
    describe: 'Seconds a poll may take before it is abandoned and counted as failed',
    group: 'Queues:',
  },
  'queue-min-poll-interval': {
    type: 'number',
    default: 2,
    describe:
      'Queue depth freshness: a scrape finding the last poll older than this, or a task-sent event, triggers a poll, but never sooner than this after the previous one (0 = only --queue-poll-interval)',
    group: 'Queues:',
  },
  'queue-scrape-wait': {
    type: 'number',
    default: 1,
    describe: 'Seconds a scrape waits at most for that fresh poll before it serves the previous values (counted in celery_exporter_scrape_refresh_timeouts_total)',
    group: 'Queues:',
  },
  'queue-discovery-interval': {
    type: 'number',
    default: 60,
    describe: 'Seconds between scans for the queues the broker knows (Redis: SCAN of kombu bindings); 0 = only configured queues and queues seen in events',
    group: 'Queues:',
  },
  'queue-forget-after': {
    type: 'number',
    default: 3600,
    describe: 'Seconds a queue that disappeared from the broker and from events must stay empty before it stops being reported (0 = never)',
    group: 'Queues:',
  },
  'long-running-task-threshold': {
    type: 'number',
    default: DEFAULT_LONG_RUNNING_TASK_THRESHOLD,
    describe: 'Seconds after which a started task counts in celery_tasks_running_longer_than_threshold (0 = no such series)',
    group: 'Metrics:',
  },
  'inspect-metrics': {
    type: 'boolean',
    default: true,
    describe: 'Poll the workers by remote control (ping, stats, active_queues, reserved, scheduled) for pool metrics; --no-inspect-metrics turns it off',
    group: 'Remote control:',
  },
  'inspect-poll-interval': {
    type: 'number',
    default: 15,
    describe: 'Seconds between inspect rounds',
    group: 'Remote control:',
  },
  'inspect-poll-timeout': {
    type: 'number',
    default: 10,
    describe: 'Seconds an inspect round (or enable_events broadcast) may take before it is abandoned and counted as failed',
    group: 'Remote control:',
  },
  'inspect-reply-timeout': {
    type: 'number',
    default: 1,
    describe: 'Reply window of each remote-control call: collection ends after this many seconds without a new reply (Celery’s inspect --timeout)',
    group: 'Remote control:',
  },
  'enable-events': {
    type: 'boolean',
    default: true,
    describe: 'Broadcast enable_events at start and periodically, so workers started without -E send task events; --no-enable-events turns it off',
    group: 'Remote control:',
  },
  'enable-events-interval': {
    type: 'number',
    default: 60,
    describe: 'Seconds between enable_events broadcasts',
    group: 'Remote control:',
  },
  'task-name-allow': {
    type: 'string',
    describe: 'Regex (whole name): only matching task names get their own series; others are counted under name="__other__"',
    group: 'Cardinality:',
  },
  'task-name-deny': {
    type: 'string',
    describe: 'Regex (whole name): matching task names are counted under name="__other__"',
    group: 'Cardinality:',
  },
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
  'max-workers': {
    type: 'number',
    default: 5000,
    describe: 'Most workers tracked at once; events of further workers are ignored and counted',
    group: 'Cardinality:',
  },
  'max-queues': {
    type: 'number',
    default: 1000,
    describe: 'Most queues tracked at once; further queue names are ignored and counted',
    group: 'Cardinality:',
  },
  'periodic-task': {
    type: 'string',
    array: true,
    describe:
      'Periodic (beat) task that must succeed every INTERVAL: NAME=INTERVAL (30s, 5m, 1h, 1d; NAME may be a glob like reports.*), repeatable; exported as celery_task_expected_interval_seconds',
    group: 'Periodic tasks:',
  },
  'periodic-task-tolerance': {
    type: 'string',
    array: true,
    describe: 'Multiple of the interval after which a periodic task without a success is overdue: FACTOR (all tasks, default 1.5) or NAME=FACTOR, repeatable',
    group: 'Periodic tasks:',
  },
  'log-level': {
    type: 'string',
    default: 'info',
    describe: 'trace, debug, info, warn, error, fatal or silent',
    group: 'Logging:',
  },
  'log-format': {
    type: 'string',
    default: 'json',
    describe: 'json or pretty',
    group: 'Logging:',
  },
} as const satisfies Record<string, Options>;
