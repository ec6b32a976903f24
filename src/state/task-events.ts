import type { RawEvent, TaskEventType } from '../events/vocabulary.js';
import { exceptionClass } from '../decoder/exception.js';
import type { TaskMetrics } from '../metrics/task-metrics.js';
import { UNKNOWN, type LabelPolicy } from './labels.js';
import { FinishedTasks, retryInvolved } from './finished-tasks.js';
import { heldEvent, ReorderBuffer } from './reorder.js';
import { maxKnown, parseEta, retriesOf } from './task-time.js';
import type { TaskRecord, TaskTracker } from './task-tracker.js';
import { isFiniteNumber } from '../util/numbers.js';

export interface TaskEventHooks {
  /** A queue named by a task-sent event (feeds queue discovery). */
  onQueueSeen?(queue: string): void;
  /** A task's final event: its name's label value (undefined when never learned) and the worker's event time. */
  onFinished?(name: string | undefined, state: 'succeeded' | 'failed', ts: number): void;
  /** task-revoked / task-rejected, with the event (for its reason fields). */
  onRevoked?(name: string | undefined, ev: RawEvent): void;
  onRejected?(name: string | undefined, ev: RawEvent): void;
}

/**
 * Applies task events to the in-flight map and the task metrics.
 *
 * Only task-sent and task-received carry the task name, and only task-sent the queue, so every
 * later event takes its labels from the record those created. Durations use timestamps taken
 * on one host where possible (received→started, started→failed); sent→started crosses hosts and
 * is clamped at 0 against clock skew.
 */
export class TaskEventHandler {
  private readonly reorder: ReorderBuffer;
  private readonly finishedRecently = new FinishedTasks();

  constructor(
    private readonly tracker: TaskTracker,
    private readonly metrics: TaskMetrics,
    private readonly labels: LabelPolicy,
    private readonly hooks: TaskEventHooks = {},
    reorderWindowMs = 1000,
  ) {
    this.reorder = new ReorderBuffer(reorderWindowMs);
  }

  get heldCount(): number {
    return this.reorder.size;
  }

  /** Finished tasks remembered for their late events (finished-tasks.ts). */
  get finishedKept(): number {
    return this.finishedRecently.size;
  }

  handle(type: TaskEventType, ev: RawEvent, uuid: string, ts: number, nowMs: number): void {
    if (type === 'task-sent') {
      this.apply(type, ev, uuid, ts, nowMs);
      const held = this.reorder.release(uuid);
      if (held !== undefined) for (const h of held) this.apply(h.type, h.ev, uuid, h.ts, h.nowMs, h.hostname);
      return;
    }
    if (this.reorder.holds(uuid)) return this.reorder.hold(uuid, heldEvent(type, ev, ts, nowMs, this.labels));
    // A worker can report a task before the producer's task-sent event reaches us (two
    // connections, no ordering between them; on RabbitMQ the producer publishes the task before
    // its task-sent, so a fast worker wins often). When task-sent is expected for this task,
    // hold its events briefly so they get the name and queue task-sent carries. task-revoked is
    // the first event of a task revoked before it ran (it has no task-received) and names nothing.
    if ((type === 'task-received' || type === 'task-revoked') && this.tracker.get(uuid) === undefined && this.reorder.expectsSent(this.labels.text(ev['name']), nowMs)) {
      return this.reorder.hold(uuid, heldEvent(type, ev, ts, nowMs, this.labels));
    }
    this.apply(type, ev, uuid, ts, nowMs);
  }

  /** Applies held events whose task-sent did not come within the window (then with queue "unknown"). */
  flushHeld(nowMs: number, stop?: () => boolean): void {
    for (const [uuid, held] of this.reorder.expired(nowMs, stop)) {
      for (const h of held) this.apply(h.type, h.ev, uuid, h.ts, h.nowMs, h.hostname);
    }
    this.finishedRecently.expire(nowMs);
  }

  /** The record of a task that finished lately and is not tracked again, if any. */
  private recentlyFinished(uuid: string): TaskRecord | undefined {
    if (this.finishedRecently.size === 0 || this.tracker.get(uuid) !== undefined) return undefined;
    return this.finishedRecently.get(uuid);
  }

  private apply(type: TaskEventType, ev: RawEvent, uuid: string, ts: number, nowMs: number, heldHostname?: string): void {
    const hostname = heldHostname ?? this.labels.hostname(ev['hostname']);
    switch (type) {
      case 'task-sent':
        return this.sent(ev, uuid, ts, hostname, nowMs);
      case 'task-received':
        return this.received(ev, uuid, ts, hostname, nowMs);
      case 'task-started':
        return this.started(uuid, ts, hostname, nowMs);
      case 'task-succeeded':
        return this.finished(ev, uuid, ts, hostname, nowMs, 'succeeded');
      case 'task-failed':
        return this.finished(ev, uuid, ts, hostname, nowMs, 'failed');
      case 'task-retried':
        return this.retried(uuid, ts, hostname, nowMs);
      case 'task-rejected': {
        const r = this.tracker.getOrCreate(uuid, nowMs);
        this.metrics.countRejected(this.series(r, hostname, nowMs));
        this.hooks.onRejected?.(r.name, ev);
        if (ev['requeue'] !== true) this.tracker.delete(uuid);
        return;
      }
      case 'task-revoked': {
        const r = this.tracker.getOrCreate(uuid, nowMs);
        this.metrics.countRevoked(this.series(r, hostname, nowMs));
        this.hooks.onRevoked?.(r.name, ev);
        this.tracker.delete(uuid);
        return;
      }
      case 'task-cancelled':
        // Sent on connection loss for acks_late tasks, which are then redelivered: no counter.
        return;
    }
  }

  private sent(ev: RawEvent, uuid: string, ts: number, hostname: string, nowMs: number): void {
    const done = this.recentlyFinished(uuid);
    if (done !== undefined) {
      // A retry's task-sent after the task finished: counted, and the queue wait its attempt waited for.
      const attempt = retriesOf(ev, done.sentAttempt + 1);
      if (attempt === done.awaitSentAttempt) {
        const due = maxKnown(ts, parseEta(ev['eta']));
        if (!Number.isNaN(due)) this.metrics.observeQueueWait(this.nq(done), Math.max(0, done.awaitSentStarted - due));
        done.awaitSentAttempt = -1;
      }
      this.metrics.countSent(this.series(done, hostname, nowMs));
      return;
    }
    const r = this.tracker.getOrCreate(uuid, nowMs);
    const name = this.labels.name(ev['name']);
    if (name !== undefined && r.name === undefined) r.name = name;
    const queue = this.labels.queue(ev['queue']) ?? this.labels.queue(ev['routing_key']);
    if (queue !== undefined) {
      if (r.queue !== queue) {
        r.queue = queue;
        r.nq = undefined;
      }
      this.hooks.onQueueSeen?.(queue);
    }
    this.reorder.sawSent(this.labels.text(ev['name']), nowMs);
    const attempt = retriesOf(ev, r.sentAttempt + 1);
    const eta = parseEta(ev['eta']);
    if (attempt > r.sentAttempt) {
      // The previous attempt's task-started may still be on its way: keep its sent time.
      r.prevSent = attempt === r.sentAttempt + 1 ? r.sent : NaN;
      r.prevEta = attempt === r.sentAttempt + 1 ? r.eta : NaN;
      r.sentAttempt = attempt;
      r.sent = ts;
      r.eta = eta;
    } else if (attempt === r.sentAttempt) {
      r.sent = ts;
      r.eta = eta;
    }
    if (attempt === r.awaitSentAttempt) {
      const due = maxKnown(ts, eta);
      if (!Number.isNaN(due)) this.metrics.observeQueueWait(this.nq(r), Math.max(0, r.awaitSentStarted - due));
      r.awaitSentAttempt = -1;
    }
    if (Number.isNaN(r.firstSent) || (attempt === 0 && ts < r.firstSent)) {
      r.firstSent = ts;
      r.firstEta = eta;
    }
    this.metrics.countSent(this.series(r, hostname, nowMs));
  }

  /**
   * A retry is a new attempt of the same uuid, numbered by `retries` in its task-received. The
   * worker's main process sends the new attempt's task-received/task-started while the pool child
   * sends the previous attempt's task-retried, so they arrive in either order: attempts are
   * matched by number, never by arrival order (a late task-retried used to wipe the retry's
   * received/started: 24 of 40 queue-wait observations on Redis with 20 tasks retrying once).
   */
  private received(ev: RawEvent, uuid: string, ts: number, hostname: string, nowMs: number): void {
    const r = this.tracker.getOrCreate(uuid, nowMs);
    if (r.name === undefined) {
      const name = this.labels.name(ev['name']);
      if (name !== undefined) {
        r.name = name;
        r.nq = undefined;
      }
    }
    const attempt = retriesOf(ev, r.retried);
    if (attempt >= r.attempt) {
      // A new attempt, or a redelivery of this one: what was started before belongs to the past.
      if (attempt > r.attempt || r.started < ts) r.started = NaN;
      r.attempt = attempt;
      r.received = ts;
      r.recvEta = parseEta(ev['eta']);
      r.hostname = hostname;
    }
    this.metrics.countReceived(this.series(r, hostname, nowMs));
  }

  private started(uuid: string, ts: number, hostname: string, nowMs: number): void {
    const r = this.tracker.getOrCreate(uuid, nowMs);
    this.metrics.countStarted(this.series(r, hostname, nowMs));
    // task-started names no attempt; the worker's main process sends it after the attempt's
    // task-received, on the same clock, so an earlier one belongs to an earlier attempt.
    if (ts < r.received) return;
    r.started = ts;
    r.hostname = hostname;
    let sent = NaN;
    let eta = r.recvEta;
    if (r.sentAttempt === r.attempt) {
      sent = r.sent;
      if (Number.isNaN(eta)) eta = r.eta;
    } else if (r.sentAttempt === r.attempt + 1) {
      sent = r.prevSent;
      if (Number.isNaN(eta)) eta = r.prevEta;
    }
    if (Number.isNaN(sent) && Number.isNaN(eta) && r.sentAttempt >= 0 && r.sentAttempt !== r.attempt) {
      // The producer sends task-sent, but this attempt's has not come yet: a retry is published
      // by the pool child before its task-sent, and the main process may receive and start it
      // first (on RabbitMQ 10 of 20 retries did). Its queue wait is observed when task-sent comes.
      // Likewise the producer's task-sent of attempt 0 can come after the retry's (sentAttempt 1).
      r.awaitSentAttempt = r.attempt;
      r.awaitSentStarted = ts;
    } else {
      const due = maxKnown(sent, eta);
      if (!Number.isNaN(due) && !Number.isNaN(ts)) this.metrics.observeQueueWait(this.nq(r), Math.max(0, ts - due));
    }
    const fetched = maxKnown(r.received, eta);
    if (!Number.isNaN(fetched) && !Number.isNaN(ts)) {
      const wait = ts - fetched;
      if (wait >= 0) this.metrics.observePrefetchWait(this.nq(r), wait);
    }
  }

  private retried(uuid: string, ts: number, hostname: string, nowMs: number): void {
    const done = this.recentlyFinished(uuid);
    if (done !== undefined) return this.metrics.countRetried(this.series(done, hostname, nowMs));
    const r = this.tracker.getOrCreate(uuid, nowMs);
    this.metrics.countRetried(this.series(r, hostname, nowMs));
    const ended = r.retried++;
    // The attempt it ends is still the current one (its retry not received yet): the task waits
    // in the broker again. When the retry's task-received came first, it is left alone.
    if (ended >= r.attempt && !(ts < r.received)) {
      r.received = NaN;
      r.started = NaN;
      r.recvEta = NaN;
    }
  }

  private finished(
    ev: RawEvent,
    uuid: string,
    ts: number,
    hostname: string,
    nowMs: number,
    state: 'succeeded' | 'failed',
  ): void {
    const r = this.tracker.getOrCreate(uuid, nowMs);
    const hs = this.series(r, hostname, nowMs);
    let runtime = NaN;
    if (state === 'succeeded') {
      this.metrics.countSucceeded(hs);
      const rt = ev['runtime'];
      if (isFiniteNumber(rt) && rt >= 0) runtime = rt;
    } else {
      this.metrics.countFailed(hs, this.labels.cap(exceptionClass(ev['exception'], ev['traceback'])));
    }
    if (Number.isNaN(runtime) && !Number.isNaN(r.started) && !Number.isNaN(ts) && ts >= r.started) runtime = ts - r.started;
    if (!Number.isNaN(runtime)) this.metrics.observeRuntime(this.nq(r), hs, state, runtime);
    const from = maxKnown(r.firstSent, r.firstEta);
    if (!Number.isNaN(from) && !Number.isNaN(ts)) this.metrics.observeLatency(this.nq(r), Math.max(0, ts - from));
    this.hooks.onFinished?.(r.name, state, ts);
    this.tracker.delete(uuid);
    // Only a record a later event may need (finished-tasks.ts); a task-sent can be late while producers send them.
    const sentMayCome = r.sentAttempt < 0 && (this.reorder.sentSeenLately(nowMs) || this.reorder.expectsSent(r.name, nowMs));
    if (sentMayCome || retryInvolved(r)) this.finishedRecently.remember(uuid, r, nowMs);
  }

  private series(r: TaskRecord, hostname: string, nowMs: number) {
    // A task's worker-side events share one series: reuse it while name, host and queue hold
    // (the purged flag covers a purge in between).
    let s = r.hs;
    const name = r.name ?? UNKNOWN;
    const queue = r.queue ?? UNKNOWN;
    if (s === undefined || s.hostname !== hostname || s.name !== name || s.queue !== queue || s.purged) {
      s = this.metrics.host(name, hostname, queue);
      r.hs = s;
    }
    s.lastSeen = nowMs;
    return s;
  }

  private nq(r: TaskRecord) {
    return (r.nq ??= this.metrics.nameQueue(r.name ?? UNKNOWN, r.queue ?? UNKNOWN));
  }
}
