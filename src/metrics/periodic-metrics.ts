import { Counter } from './counter.js';
import { Gauge } from './gauge.js';
import type { MetricRegistry } from './registry.js';

/** Why a task was revoked (task-revoked `terminated`/`expired`), a bounded label. */
export const REVOKE_REASONS = ['terminated', 'expired', 'revoked'] as const;
export type RevokeReason = (typeof REVOKE_REASONS)[number];
/** What a worker did with a rejected message (task-rejected `requeue`). */
export const REJECT_REASONS = ['requeue', 'discard'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/**
 * Per task name only (no hostname, no queue): bounded by --max-task-names, and untouched by the
 * purge of offline workers' series, so a nightly task's last success outlives the worker that ran it.
 */
export class PeriodicMetrics {
  readonly lastSucceeded: Gauge;
  readonly lastFailed: Gauge;
  readonly expectedInterval: Gauge;
  readonly tolerance: Gauge;
  readonly startTime: Gauge;
  readonly revocations: Counter;
  readonly rejections: Counter;

  constructor(reg: MetricRegistry) {
    const n = ['name'];
    this.lastSucceeded = reg.register(
      new Gauge({
        name: 'celery_task_last_succeeded_timestamp_seconds',
        help: 'When a task of this name last succeeded (task-succeeded event time, worker clock, Unix seconds); absent until one succeeds after the exporter started.',
        labelNames: n,
      }),
    );
    this.lastFailed = reg.register(
      new Gauge({
        name: 'celery_task_last_failed_timestamp_seconds',
        help: 'When a task of this name last failed for good (task-failed event time, worker clock, Unix seconds; retries are not failures).',
        labelNames: n,
      }),
    );
    this.expectedInterval = reg.register(
      new Gauge({
        name: 'celery_task_expected_interval_seconds',
        help: 'How often a periodic task must succeed (--periodic-task); a glob declaration gets a series per matching name seen.',
        labelNames: n,
      }),
    );
    this.tolerance = reg.register(
      new Gauge({
        name: 'celery_task_expected_interval_tolerance_ratio',
        help: 'Multiple of the expected interval after which a periodic task without a success is overdue (--periodic-task-tolerance, default 1.5).',
        labelNames: n,
      }),
    );
    this.startTime = reg.register(
      new Gauge({
        name: 'celery_exporter_start_time_seconds',
        help: 'When the exporter started (Unix seconds): the reference for periodic tasks that have not succeeded since.',
      }),
    );
    this.revocations = reg.register(
      new Counter({
        name: 'celery_task_revocations_total',
        help: 'Tasks revoked, by reason: terminated (revoke --terminate of a running task), expired (past its expires), revoked (discarded before it started).',
        labelNames: ['name', 'reason'],
      }),
    );
    this.rejections = reg.register(
      new Counter({
        name: 'celery_task_rejections_total',
        help: 'Tasks rejected by a worker, by reason: requeue (put back on the queue) or discard (dropped or dead-lettered).',
        labelNames: ['name', 'reason'],
      }),
    );
  }
}
