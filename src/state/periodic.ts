import { globRegex, isGlob, type PeriodicTask } from '../config/periodic.js';
import type { RawEvent } from '../events/vocabulary.js';
import type { PeriodicMetrics, RejectReason, RevokeReason } from '../metrics/periodic-metrics.js';
import { UNKNOWN } from './labels.js';

/**
 * Last success/failure per task name, the declared periodic tasks, and the revoke/reject reasons.
 * Fed by the task-event handler's hooks with the label value of the task's name (already folded
 * by the cardinality policy), so every family here is bounded by --max-task-names.
 */
export class PeriodicTasks {
  private readonly globs: Array<{ re: RegExp; task: PeriodicTask }> = [];
  /** Names already looked up against the globs (each name is matched once). */
  private readonly matched = new Set<string>();

  constructor(
    private readonly metrics: PeriodicMetrics,
    tasks: readonly PeriodicTask[],
    startedMs: number,
  ) {
    metrics.startTime.labels().set(startedMs / 1000);
    for (const t of tasks) {
      if (isGlob(t.pattern)) this.globs.push({ re: globRegex(t.pattern), task: t });
      else this.declare(t.pattern, t);
    }
  }

  /** task-succeeded/task-failed: `ts` is the worker's event time (seconds). */
  finished(name: string | undefined, state: 'succeeded' | 'failed', ts: number): void {
    // A task whose name never reached us (exporter started mid-task) says nothing about any schedule.
    if (name === undefined || name === UNKNOWN || !(ts > 0)) return;
    this.matchGlobs(name);
    const g = (state === 'succeeded' ? this.metrics.lastSucceeded : this.metrics.lastFailed).labels(name);
    // Events of several workers interleave: keep the latest time, never step back.
    if (ts > g.value) g.set(ts);
  }

  revoked(name: string | undefined, ev: RawEvent): void {
    const reason: RevokeReason = ev['terminated'] === true ? 'terminated' : ev['expired'] === true ? 'expired' : 'revoked';
    this.metrics.revocations.labels(name ?? UNKNOWN, reason).inc();
  }

  rejected(name: string | undefined, ev: RawEvent): void {
    const reason: RejectReason = ev['requeue'] === true ? 'requeue' : 'discard';
    this.metrics.rejections.labels(name ?? UNKNOWN, reason).inc();
  }

  private matchGlobs(name: string): void {
    if (this.globs.length === 0 || this.matched.has(name)) return;
    this.matched.add(name);
    if (this.metrics.expectedInterval.peek(name) !== undefined) return; // declared by its exact name
    const hit = this.globs.find((g) => g.re.test(name));
    if (hit !== undefined) this.declare(name, hit.task);
  }

  private declare(name: string, t: PeriodicTask): void {
    this.metrics.expectedInterval.labels(name).set(t.interval);
    this.metrics.tolerance.labels(name).set(t.tolerance);
  }
}
