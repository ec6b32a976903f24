export const DEFAULT_BROKER_URL = 'redis://localhost:6379/0';
export const ENV_PREFIX = 'CELERY_EXPORTER';

/** Execution time: sub-second jobs up to hour-long batch tasks. */
export const DEFAULT_RUNTIME_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
];
/** Wait-shaped: resolution from 50 ms to 30 min, where queue backlogs live. */
export const DEFAULT_QUEUE_WAIT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
/** End-to-end: waits plus runtimes. */
export const DEFAULT_LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** A task running this long counts in celery_tasks_running_longer_than_threshold (Redis's default visibility_timeout). */
export const DEFAULT_LONG_RUNNING_TASK_THRESHOLD = 3600;
