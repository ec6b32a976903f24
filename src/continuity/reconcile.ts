import type { Logger } from '../log.js';
import type { CounterChild } from '../metrics/counter.js';
import type { NodeReply, RemoteControl } from '../remote/client.js';
import type { LabelPolicy } from '../state/labels.js';
import type { TaskRecord, TaskTracker } from '../state/task-tracker.js';
import { isFiniteNumber } from '../util/numbers.js';

export interface ReconcileDeps {
  rc: Pick<RemoteControl, 'call'>;
  tracker: TaskTracker;
  labels: LabelPolicy;
  /** celery_exporter_reconciled_tasks_total{action}: added, updated, dropped. */
  counted: Record<'added' | 'updated' | 'dropped', CounterChild>;
  log: Logger;
}

export interface ReconcileOptions {
  replyTimeoutMs: number;
  /** Time between the round that finds a tracked task no worker reports and the one that drops it. */
  graceMs: number;
  /** Seconds a task may be tracked (--tracked-task-ttl): a time_start older than this is not believed. */
  ttlSeconds: number;
}

export interface ReconcileReplies {
  active: readonly NodeReply[];
  reserved: readonly NodeReply[];
  scheduled: readonly NodeReply[];
}

/** What a drop candidate looked like when it was found: any event since changes it. */
type Seen = string;

/**
 * Rebuilds the in-flight map from the workers after a start or a reconnect that may have lost
 * events: asks `active`, `reserved` and `scheduled` and reconciles.
 *
 * - A task a worker reports is tracked with its name, queue (delivery_info.routing_key) and
 *   worker; a running one with its real start (`time_start`: the worker's Unix clock, the same
 *   clock as its task-started event; Celery converts the pool's monotonic accept time to it).
 *   What events already told wins: a reply never overwrites a known field.
 * - A tracked task of a worker that answered all three calls and did not report it is a drop
 *   candidate; a second round at least `graceMs` later drops it if it is still not reported and
 *   no event changed it meanwhile (it finished while the exporter was not listening).
 * - Workers that do not answer are left as they are; tasks not given to any worker yet (sent,
 *   not received) are no worker's to report and are never candidates.
 */
export class Reconciler {
  private candidates = new Map<string, Seen>();
  private running: Promise<void> | undefined;
  private again = false;
  private followUp: NodeJS.Timeout | undefined;
  private readonly ac = new AbortController();
  private warnedClock = false;

  constructor(
    private readonly d: ReconcileDeps,
    private readonly opts: ReconcileOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts a round now (or right after the one in progress). */
  trigger(reason: string): void {
    if (this.ac.signal.aborted) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.round(reason).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.trigger('repeat');
      }
    });
  }

  async stop(): Promise<void> {
    this.ac.abort(new Error('stopping'));
    clearTimeout(this.followUp);
    await this.running;
  }

  private async round(reason: string): Promise<void> {
    const signal = this.ac.signal;
    const call = (method: string) => this.d.rc.call(method, { timeoutMs: this.opts.replyTimeoutMs, signal }).then((r) => r.replies);
    const before = new Set<string>();
    for (const [uuid] of this.d.tracker.entries()) before.add(uuid);
    try {
      const [active, reserved, scheduled] = await Promise.all([call('active'), call('reserved'), call('scheduled')]);
      const r = this.apply({ active, reserved, scheduled }, before);
      this.d.log.info({ reason, ...r }, 'in-flight tasks reconciled with the workers (inspect active/reserved/scheduled)');
      if (this.candidates.size > 0) {
        clearTimeout(this.followUp);
        this.followUp = setTimeout(() => this.trigger('grace'), this.opts.graceMs);
        this.followUp.unref();
      }
    } catch (err) {
      if (!signal.aborted) this.d.log.warn({ reason, err: (err as Error).message }, 'could not ask the workers for their tasks; in-flight state kept as it is');
    }
  }

  /**
   * One round's replies. `before`: uuids tracked when the calls were sent; a task tracked then
   * and gone now finished meanwhile, and a reply must not bring it back. Public for unit tests.
   */
  apply(rep: ReconcileReplies, before: ReadonlySet<string>): { workers: number; added: number; updated: number; candidates: number; dropped: number } {
    const nowS = this.now() / 1000;
    const byHost = new Map<string, { active: unknown; reserved: unknown; scheduled: unknown }>();
    const slot = (host: string) => {
      let s = byHost.get(host);
      if (s === undefined) byHost.set(host, (s = { active: undefined, reserved: undefined, scheduled: undefined }));
      return s;
    };
    for (const r of rep.active) slot(this.d.labels.hostname(r.hostname)).active = r.value;
    for (const r of rep.reserved) slot(this.d.labels.hostname(r.hostname)).reserved = r.value;
    for (const r of rep.scheduled) slot(this.d.labels.hostname(r.hostname)).scheduled = r.value;

    const answered = new Set<string>();
    const reported = new Set<string>();
    let added = 0;
    let updated = 0;
    for (const [host, s] of byHost) {
      if (!Array.isArray(s.active) || !Array.isArray(s.reserved) || !Array.isArray(s.scheduled)) continue;
      answered.add(host);
      const entries: Array<[Record<string, unknown>, boolean, unknown]> = [];
      for (const t of s.active) if (isObject(t)) entries.push([t, true, undefined]);
      for (const t of s.reserved) if (isObject(t)) entries.push([t, false, undefined]);
      for (const t of s.scheduled) if (isObject(t) && isObject(t['request'])) entries.push([t['request'], false, t['eta']]);
      for (const [t, isActive, eta] of entries) {
        const id = t['id'];
        if (typeof id !== 'string' || id === '') continue;
        reported.add(id);
        let r = this.d.tracker.get(id);
        if (r === undefined && before.has(id)) continue; // finished while we asked
        const isNew = r === undefined;
        r ??= this.d.tracker.getOrCreate(id, this.now());
        const changed = this.fill(r, t, host, isActive, eta, nowS);
        if (isNew) added++;
        else if (changed) updated++;
      }
    }

    const drop: string[] = [];
    const next = new Map<string, Seen>();
    for (const [uuid, r] of this.d.tracker.entries()) {
      if (r.hostname === undefined || !answered.has(r.hostname) || reported.has(uuid)) continue;
      const seen = signature(r);
      if (this.candidates.get(uuid) === seen) drop.push(uuid);
      else next.set(uuid, seen);
    }
    for (const uuid of drop) this.d.tracker.delete(uuid);
    const dropped = drop.length;
    this.candidates = next;
    this.d.counted.added.inc(added);
    this.d.counted.updated.inc(updated);
    this.d.counted.dropped.inc(dropped);
    return { workers: answered.size, added, updated, candidates: next.size, dropped };
  }

  /** Fills what the record does not know yet from a worker's report; true if anything changed. */
  private fill(r: TaskRecord, t: Record<string, unknown>, host: string, isActive: boolean, eta: unknown, nowS: number): boolean {
    const was = signature(r);
    if (r.name === undefined) {
      const name = this.d.labels.name(t['name']);
      if (name !== undefined) {
        r.name = name;
        r.nq = undefined;
      }
    }
    const di = t['delivery_info'];
    if (r.queue === undefined && isObject(di)) {
      const q = this.d.labels.queue(di['routing_key']);
      if (q !== undefined) {
        r.queue = q;
        r.nq = undefined;
      }
    }
    r.hostname ??= host;
    // Held by a worker: no longer waiting in the broker. When it was fetched is not known: the
    // time we learn it stands in (its prefetch wait is then a lower bound).
    if (Number.isNaN(r.received)) r.received = nowS;
    if (typeof eta === 'string') {
      const ms = Date.parse(eta);
      if (!Number.isNaN(ms)) {
        const due = ms / 1000;
        if (Number.isNaN(r.eta)) {
          r.eta = due;
          // No task-sent seen: the ETA is this attempt's (its sent time stays unknown, and is
          // before the ETA of a scheduled task, so the queue wait measured from the ETA is exact).
          if (r.sentAttempt < 0) r.sentAttempt = r.attempt;
        }
        // The ETA of the attempt the worker holds, as its task-received would have said: its
        // task-started measures the prefetch wait from the ETA, not from when we learned of it.
        if (Number.isNaN(r.recvEta)) r.recvEta = due;
      }
    }
    if (isActive && Number.isNaN(r.started)) r.started = this.startTime(t['time_start'], nowS);
    return signature(r) !== was;
  }

  /**
   * time_start is the worker's Unix time (Celery 5: `time() - (monotonic() - time_accepted)`).
   * Anything implausible (a monotonic clock from an old Celery, a skewed clock) is not believed:
   * the task then counts as started now, and its age is a lower bound.
   */
  private startTime(v: unknown, nowS: number): number {
    if (isFiniteNumber(v) && v > nowS - this.opts.ttlSeconds && v < nowS + 300) return v;
    if (!this.warnedClock && v !== null && v !== undefined) {
      this.warnedClock = true;
      this.d.log.warn({ timeStart: v }, 'a worker reported a task start time that is not a plausible Unix time; such tasks count as started when the exporter learned of them');
    }
    return nowS;
  }
}

function signature(r: TaskRecord): Seen {
  return `${r.sent}|${r.received}|${r.started}|${r.hostname ?? ''}|${r.name ?? ''}|${r.queue ?? ''}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
