import type { HostSeries, NameQueueSeries } from '../metrics/task-series.js';

/** What we remember about a task between its events. Timestamps are event times (Unix s), NaN when unknown. */
export class TaskRecord {
  name: string | undefined = undefined;
  queue: string | undefined = undefined;
  /**
   * Last task-sent (a retry re-sends) and its ETA/countdown due time, for attempt `sentAttempt`
   * (its `retries`); `prevSent`/`prevEta` are those of the attempt before, whose task-started
   * may still be on its way. The first task-sent is kept for end-to-end latency.
   */
  sent = NaN;
  eta = NaN;
  sentAttempt = -1;
  prevSent = NaN;
  prevEta = NaN;
  firstSent = NaN;
  firstEta = NaN;
  /** The attempt (`retries` of its task-received) that `received`/`started`/`recvEta` describe. */
  attempt = 0;
  received = NaN;
  started = NaN;
  recvEta = NaN;
  /** An attempt that started before its task-sent arrived, and when: its queue wait is observed when it does. */
  awaitSentAttempt = -1;
  awaitSentStarted = NaN;
  /** task-retried events seen: the n-th one (from 0) ends attempt n. */
  retried = 0;
  /** Worker that received/started it, for the active-task signals. */
  hostname: string | undefined = undefined;
  /** Local time (ms) the record was created; drives the TTL. */
  readonly createdAt: number;
  nq: NameQueueSeries | undefined = undefined;
  /** The counter series of the last (name, hostname, queue) this task was counted under. */
  hs: HostSeries | undefined = undefined;
  constructor(createdAt: number) {
    this.createdAt = createdAt;
  }
}

export interface TaskTrackerOptions {
  maxTasks: number;
  /** Seconds a task may stay in flight before it is forgotten (lost worker, missing events). */
  ttlSeconds: number;
  onEvict: (reason: 'capacity' | 'ttl') => void;
}

/**
 * Bounded uuid → TaskRecord map. A Map iterates in insertion order, so the oldest records are
 * at the front: eviction by capacity and the TTL sweep both read from the front and stop early.
 */
export class TaskTracker {
  private readonly map = new Map<string, TaskRecord>();
  /**
   * Capacity eviction reads the oldest key through one iterator kept across calls: every key
   * before its position was evicted by it, so the next one is the oldest left. A fresh
   * `keys().next()` walks the deleted slots V8 leaves at the front of the table until it rehashes:
   * at the 100,000 cap with finished tasks deleted all over the map, 164 µs per new task against
   * 3.2 µs with the kept iterator (a tracker at its cap is the lost-workers case).
   */
  private evictionCursor: Iterator<string> | undefined;
  constructor(private readonly opts: TaskTrackerOptions) {}

  get size(): number {
    return this.map.size;
  }

  get(uuid: string): TaskRecord | undefined {
    return this.map.get(uuid);
  }

  getOrCreate(uuid: string, nowMs: number): TaskRecord {
    let r = this.map.get(uuid);
    if (r === undefined) {
      r = new TaskRecord(nowMs);
      this.map.set(uuid, r);
      if (this.map.size > this.opts.maxTasks) {
        this.map.delete(this.oldestKey());
        this.opts.onEvict('capacity');
      }
    }
    return r;
  }

  private oldestKey(): string {
    let next = (this.evictionCursor ??= this.map.keys()).next();
    // An iterator that reached the end stays done: start a new one (the map is not empty here).
    if (next.done === true) next = (this.evictionCursor = this.map.keys()).next();
    return next.value as string;
  }

  delete(uuid: string): void {
    this.map.delete(uuid);
  }

  /** Forgets records older than the TTL; `stop` (asked every 256 records) ends it early. */
  sweep(nowMs: number, stop?: () => boolean): number {
    const cutoff = nowMs - this.opts.ttlSeconds * 1000;
    let n = 0;
    for (const [uuid, r] of this.map) {
      if (r.createdAt > cutoff) break;
      if (stop !== undefined && n > 0 && n % 256 === 0 && stop()) break;
      this.map.delete(uuid);
      this.opts.onEvict('ttl');
      n++;
    }
    return n;
  }

  /** Whether records older than the TTL are left (a sweep stopped early). */
  hasExpired(nowMs: number): boolean {
    const oldest = this.map.values().next().value;
    return oldest !== undefined && oldest.createdAt <= nowMs - this.opts.ttlSeconds * 1000;
  }

  /** uuid → record, oldest first (the state file keeps this order, and so the TTL). */
  entries(): IterableIterator<[string, TaskRecord]> {
    return this.map.entries();
  }

  values(): IterableIterator<TaskRecord> {
    return this.map.values();
  }
}
