import type { TaskRecord } from './task-tracker.js';

/** How long (at least; at most twice that), and how many, finished tasks are remembered for their late task-retried / task-sent. */
const FINISHED_KEEP_MS = 10_000;
const MAX_FINISHED_KEPT = 10_000;

/**
 * Tasks that finished lately: a retried task's earlier attempt can report after its last one
 * finished (the pool child that ran attempt 0 is preempted between publishing the retry and
 * handing its result to the main process, which meanwhile runs attempt 1 to the end; the retry's
 * task-sent comes over the child's own connection). Such a late task-retried / task-sent is
 * counted under the finished task's labels and recreates no record (it used to count as name
 * "unknown" and leave a task tracked forever).
 *
 * Two generations of maps, the newer one becoming the older every keepMs (or when it holds half
 * the cap), so remembering and forgetting are O(1). One insertion-ordered Map trimmed from its
 * front with `keys().next()` cost 14.8 µs per finished task at the 10,000 cap (V8 walks the
 * deleted slots left at the front on each call), about a quarter of the exporter's CPU per event
 * at 5,000 tasks/s; two generations cost 0.17 µs. A task is kept at least keepMs (or cap / 2
 * newer finishes), at most twice that.
 */
export class FinishedTasks<R = TaskRecord> {
  private current = new Map<string, R>();
  private previous = new Map<string, R>();
  /** When the newer generation started (ms, on the clock callers pass in). */
  private currentSince = 0;

  constructor(
    private readonly keepMs = FINISHED_KEEP_MS,
    private readonly cap = MAX_FINISHED_KEPT,
  ) {}

  get size(): number {
    return this.current.size + this.previous.size;
  }

  get(uuid: string): R | undefined {
    if (this.size === 0) return undefined;
    return this.current.get(uuid) ?? this.previous.get(uuid);
  }

  /** Remembers a task that just finished (its newest record if it finished before). */
  remember(uuid: string, record: R, nowMs: number): void {
    this.expire(nowMs);
    this.previous.delete(uuid);
    this.current.set(uuid, record);
    if (this.current.size >= this.cap / 2) this.age(nowMs);
  }

  /** Forgets the older generation once the newer one is keepMs old; call once a tick. */
  expire(nowMs: number): void {
    if (nowMs - this.currentSince < this.keepMs) return;
    // When even the newer generation began 2 × keepMs ago, all it holds is past keepMs too.
    if (nowMs - this.currentSince >= 2 * this.keepMs) this.current = new Map();
    this.age(nowMs);
  }

  private age(nowMs: number): void {
    this.previous = this.current;
    this.current = new Map();
    this.currentSince = nowMs;
  }
}

/**
 * Whether a finished task went through a retry (or waits for a task-sent): the late task-retried
 * and task-sent above are of such tasks, and of tasks whose task-sent had not come when they
 * finished. A task sent once and run once has no late event needing its record, so it is not
 * remembered: holding every record for 10 s moved all of them into V8's old generation — at
 * 20k events/s on Redis (npm run bench, steady-20k, node --trace-gc) 403 scavenges (1,087 ms)
 * and 30 mark-compacts (393 ms) in the run, against 529 (464 ms) and 11 (145 ms) without, and
 * 19.9 against 15.6 µs CPU per event.
 */
export function retryInvolved(r: TaskRecord): boolean {
  return r.attempt > 0 || r.sentAttempt > 0 || r.retried > 0 || r.awaitSentAttempt >= 0;
}
