import type { TaskRecord } from './task-tracker.js';

/** How long, and how many, finished tasks are remembered for their late task-retried / task-sent. */
const FINISHED_KEEP_MS = 10_000;
const MAX_FINISHED_KEPT = 10_000;

/**
 * Tasks that finished in the last FINISHED_KEEP_MS, oldest first: a retried task's earlier
 * attempt can report after its last one finished (the pool child that ran attempt 0 is
 * preempted between publishing the retry and handing its result to the main process, which
 * meanwhile runs attempt 1 to the end; the retry's task-sent comes over the child's own
 * connection). Such a late task-retried / task-sent is counted under the finished task's labels
 * and recreates no record (it used to count as name "unknown" and leave a task tracked forever).
 */
export class FinishedTasks {
  private readonly finished = new Map<string, { r: TaskRecord; atMs: number }>();

  get size(): number {
    return this.finished.size;
  }

  get(uuid: string): TaskRecord | undefined {
    return this.finished.get(uuid)?.r;
  }

  /** Remembers a task that just finished (moved to the end if it finished before); drops the oldest beyond the cap. */
  remember(uuid: string, r: TaskRecord, nowMs: number): void {
    this.finished.delete(uuid);
    this.finished.set(uuid, { r, atMs: nowMs });
    if (this.finished.size > MAX_FINISHED_KEPT) this.finished.delete(this.finished.keys().next().value as string);
  }

  /** Forgets the tasks that finished FINISHED_KEEP_MS ago or longer. */
  expire(nowMs: number): void {
    for (const [uuid, f] of this.finished) {
      if (nowMs - f.atMs < FINISHED_KEEP_MS) break;
      this.finished.delete(uuid);
    }
  }
}
