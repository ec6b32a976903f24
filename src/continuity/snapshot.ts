import { createHash } from 'node:crypto';
import type { Counter } from '../metrics/counter.js';
import type { ExporterMetrics } from '../metrics/exporter-metrics.js';
import type { Histogram } from '../metrics/histogram.js';
import type { EventState } from '../state/event-state.js';
import type { TaskRecord, TaskTracker } from '../state/task-tracker.js';
import type { WorkerSnapshot } from '../state/worker-state.js';
import { isFiniteNumber } from '../util/numbers.js';

/** What a snapshot is taken from and applied to: the task families and the state tables. */
export interface SnapshotParts {
  readonly metrics: Pick<ExporterMetrics, 'tasks' | 'periodic'>;
  readonly state: Pick<EventState, 'tracker' | 'workers' | 'taskNames' | 'queues'>;
}

/**
 * The part of the exporter's state that survives a restart, as plain data: the event-derived
 * counters and histograms (celery_task_*; the exporter's own celery_exporter_* metrics describe
 * one process and start again), the hosts' last-seen times (the purge), the worker table and
 * the in-flight tasks. Builds it from the running state, checks one read from disk, and applies it.
 */
export interface Snapshot {
  savedAt: number;
  /** family → [label values, value] */
  counters: Record<string, Array<[string[], number]>>;
  /** family → [label values, non-cumulative bucket counts (last = +Inf), sum, count] */
  histograms: Record<string, Array<[string[], number[], number, number]>>;
  /** hostname → local ms it was last seen on a task event */
  hosts: Array<[string, number]>;
  workers: WorkerSnapshot[];
  /** Strings of the task rows (names, queues, hostnames), referenced by index; -1 = unknown. */
  strings: string[];
  /** Unix seconds the task times are relative to. */
  timeBase: number;
  /**
   * The in-flight tasks by column, oldest first (n tasks): uuids[n]; refs[3n] = name, queue,
   * hostname (index into strings, -1 = unknown); created[n] = local ms; times[10n] = sent,
   * firstSent, received, started, eta, firstEta, recvEta, prevSent, prevEta, awaitSentStarted in
   * integer microseconds from timeBase (null = unknown); attempts[4n] = sentAttempt, attempt,
   * retried, awaitSentAttempt (the retry bookkeeping that says which attempt sent/eta and
   * received/recvEta belong to: without it a restored task's queue wait is lost). Columns of numbers, because per-task arrays and float formatting made a save of
   * 100k tasks cost seconds of allocation and GC (bench/state-file.ts).
   */
  tasks: { uuids: string[]; refs: number[]; created: number[]; times: Array<number | null>; attempts: number[] };
}

const TIME_FIELDS = ['sent', 'firstSent', 'received', 'started', 'eta', 'firstEta', 'recvEta', 'prevSent', 'prevEta', 'awaitSentStarted'] as const;
const NT = TIME_FIELDS.length;
const ATTEMPT_FIELDS = ['sentAttempt', 'attempt', 'retried', 'awaitSentAttempt'] as const;
const NA = ATTEMPT_FIELDS.length;

export function persistedCounters({ metrics }: SnapshotParts): Counter[] {
  const t = metrics.tasks;
  const p = metrics.periodic;
  return [t.sent, t.received, t.started, t.succeeded, t.failed, t.rejected, t.revoked, t.retried, p.revocations, p.rejections];
}

export function persistedHistograms({ metrics }: SnapshotParts): Histogram[] {
  const t = metrics.tasks;
  return [t.runtime, t.queueWait, t.prefetchWait, t.latency, ...(t.compatRuntime === undefined ? [] : [t.compatRuntime])];
}

/**
 * What must match for a saved state to mean the same thing here: every persisted family's
 * name, labels and buckets, and the settings that shape label values (hostname form, length
 * cap, task-name folding, static labels).
 */
export function fingerprint(parts: SnapshotParts, settings: Record<string, unknown>): string {
  const families = [
    ...persistedCounters(parts).map((f) => [f.name, f.labelNames]),
    ...persistedHistograms(parts).map((f) => [f.name, f.labelNames, Array.from(f.bounds)]),
  ];
  return createHash('sha256').update(JSON.stringify({ families, settings })).digest('hex').slice(0, 32);
}

/** The snapshot as the JSON text of the file's body. */
export function encodeSnapshot(parts: SnapshotParts, nowMs: number): string {
  const counters: Snapshot['counters'] = {};
  for (const f of persistedCounters(parts)) {
    const rows: Array<[string[], number]> = [];
    for (const c of f.series()) rows.push([c.labelValues as string[], c.value]);
    counters[f.name] = rows;
  }
  const histograms: Snapshot['histograms'] = {};
  for (const f of persistedHistograms(parts)) {
    const rows: Array<[string[], number[], number, number]> = [];
    for (const c of f.series()) rows.push([c.labelValues as string[], Array.from(c.counts), c.sum, c.count]);
    histograms[f.name] = rows;
  }
  const timeBase = Math.floor(nowMs / 1000);
  const { strings, tasks } = encodeTasks(parts.state.tracker, timeBase);
  const hosts = [...parts.metrics.tasks.hostnames()];
  const snap: Snapshot = { savedAt: nowMs, counters, histograms, hosts, workers: [...parts.state.workers.snapshot()], strings, timeBase, tasks };
  return JSON.stringify(snap);
}

/** The in-flight tasks as the columns of Snapshot['tasks'], their strings listed once. */
function encodeTasks(tracker: TaskTracker, timeBase: number): Pick<Snapshot, 'strings' | 'tasks'> {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const ref = (s: string | undefined): number => {
    if (s === undefined) return -1;
    let i = index.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      index.set(s, i);
    }
    return i;
  };
  const n = tracker.size;
  const uuids: string[] = new Array<string>(n);
  const refs: number[] = new Array<number>(3 * n);
  const created: number[] = new Array<number>(n);
  const times: number[] = new Array<number>(NT * n);
  const attempts: number[] = new Array<number>(NA * n);
  let i = 0;
  for (const [uuid, r] of tracker.entries()) {
    uuids[i] = uuid;
    refs[3 * i] = ref(r.name);
    refs[3 * i + 1] = ref(r.queue);
    refs[3 * i + 2] = ref(r.hostname);
    created[i] = r.createdAt;
    writeTimes(times, NT * i, r, timeBase);
    const a = NA * i;
    attempts[a] = r.sentAttempt;
    attempts[a + 1] = r.attempt;
    attempts[a + 2] = r.retried;
    attempts[a + 3] = r.awaitSentAttempt;
    i++;
  }
  return { strings, tasks: { uuids, refs, created, times, attempts } };
}

/** A task's times (TIME_FIELDS order) from `at` on, in integer microseconds from timeBase. */
function writeTimes(times: number[], at: number, r: TaskRecord, timeBase: number): void {
  // NaN stays NaN, which JSON writes as null.
  times[at] = Math.round((r.sent - timeBase) * 1e6);
  times[at + 1] = Math.round((r.firstSent - timeBase) * 1e6);
  times[at + 2] = Math.round((r.received - timeBase) * 1e6);
  times[at + 3] = Math.round((r.started - timeBase) * 1e6);
  times[at + 4] = Math.round((r.eta - timeBase) * 1e6);
  times[at + 5] = Math.round((r.firstEta - timeBase) * 1e6);
  times[at + 6] = Math.round((r.recvEta - timeBase) * 1e6);
  times[at + 7] = Math.round((r.prevSent - timeBase) * 1e6);
  times[at + 8] = Math.round((r.prevEta - timeBase) * 1e6);
  times[at + 9] = Math.round((r.awaitSentStarted - timeBase) * 1e6);
}

/** Thrown by checkSnapshot: the file parsed but its content is not a usable state. */
export class SnapshotError extends Error {}

/**
 * Checks every part of a parsed state before anything is applied, so a bad file is rejected
 * whole (never half loaded). Returns the snapshot typed; throws SnapshotError.
 */
export function checkSnapshot(parts: SnapshotParts, data: unknown): Snapshot {
  const fail = (what: string): never => {
    throw new SnapshotError(what);
  };
  if (!isObject(data)) return fail('body is not an object');
  const s = data as Record<string, unknown>;
  if (!isFiniteNumber(s['savedAt'])) fail('savedAt');
  if (!isFiniteNumber(s['timeBase'])) fail('timeBase');
  const labelCount = new Map<string, number>();
  const buckets = new Map<string, number>();
  for (const f of persistedCounters(parts)) labelCount.set(f.name, f.labelNames.length);
  for (const f of persistedHistograms(parts)) {
    labelCount.set(f.name, f.labelNames.length);
    buckets.set(f.name, f.bounds.length + 1);
  }
  const checkLabels = (family: string, v: unknown) => {
    if (!Array.isArray(v) || v.length !== labelCount.get(family) || !v.every((x) => typeof x === 'string')) fail(`labels of ${family}`);
  };
  if (!isObject(s['counters'])) fail('counters');
  for (const [name, rows] of Object.entries(s['counters'] as Record<string, unknown>)) {
    if (!labelCount.has(name) || buckets.has(name) || !Array.isArray(rows)) fail(`counter family ${name}`);
    for (const row of rows as unknown[]) {
      if (!Array.isArray(row) || row.length !== 2 || !isCount(row[1])) fail(`a series of ${name}`);
      checkLabels(name, (row as unknown[])[0]);
    }
  }
  if (!isObject(s['histograms'])) fail('histograms');
  for (const [name, rows] of Object.entries(s['histograms'] as Record<string, unknown>)) {
    const n = buckets.get(name);
    if (n === undefined || !Array.isArray(rows)) fail(`histogram family ${name}`);
    for (const row of rows as unknown[]) {
      if (!Array.isArray(row) || row.length !== 4) fail(`a series of ${name}`);
      const [labels, counts, sum, count] = row as unknown[];
      checkLabels(name, labels);
      if (!Array.isArray(counts) || counts.length !== n || !counts.every(isCount) || !isFiniteNumber(sum) || !isCount(count)) fail(`a series of ${name}`);
    }
  }
  if (!Array.isArray(s['hosts']) || !s['hosts'].every((h) => Array.isArray(h) && h.length === 2 && typeof h[0] === 'string' && isFiniteNumber(h[1]))) fail('hosts');
  if (!Array.isArray(s['workers']) || !s['workers'].every(isWorker)) fail('workers');
  const strings = s['strings'];
  if (!Array.isArray(strings) || !strings.every((x) => typeof x === 'string')) fail('strings');
  const nStrings = (strings as string[]).length;
  const isRef = (v: unknown) => Number.isInteger(v) && (v as number) >= -1 && (v as number) < nStrings;
  const t = s['tasks'];
  if (!isObject(t)) fail('tasks');
  const { uuids, refs, created, times, attempts } = t as Record<string, unknown>;
  if (!Array.isArray(uuids) || !uuids.every((u) => typeof u === 'string' && u !== '')) fail('task uuids');
  const n = (uuids as string[]).length;
  if (!Array.isArray(refs) || refs.length !== 3 * n || !refs.every(isRef)) fail('task names, queues or hostnames');
  if (!Array.isArray(created) || created.length !== n || !created.every(isFiniteNumber)) fail('task creation times');
  if (!Array.isArray(times) || times.length !== NT * n || !times.every((v) => v === null || Number.isSafeInteger(v))) fail('task times');
  if (!Array.isArray(attempts) || attempts.length !== NA * n || !attempts.every((v) => Number.isSafeInteger(v) && (v as number) >= -1)) fail('task attempts');
  return data as unknown as Snapshot;
}

export interface Restored {
  series: number;
  workers: number;
  tasks: number;
}

/** Applies a checked snapshot to a fresh state (before any event). */
export function applySnapshot(parts: SnapshotParts, s: Snapshot, nowMs: number): Restored {
  const { metrics, state } = parts;
  const t = metrics.tasks;
  const names = state.taskNames;
  const lastSeen = new Map(s.hosts);
  let series = 0;
  for (const f of persistedCounters(parts)) {
    const rows = s.counters[f.name] ?? [];
    const iName = f.labelNames.indexOf('name');
    const iHost = f.labelNames.indexOf('hostname');
    const iQueue = f.labelNames.indexOf('queue_name');
    const iException = f === t.failed ? f.labelNames.indexOf('exception') : -1;
    for (const [labels, value] of rows) {
      const c = f.labels(...labels);
      if (!c.live) continue; // over --max-series
      c.set(value);
      series++;
      // Keep the task-name and exception-class budgets and the hosts' purge clocks as they were.
      if (iName >= 0) names.resolve(labels[iName]!);
      if (iException >= 0) t.seedException(labels[iException]!);
      if (iName >= 0 && iQueue >= 0) {
        const host = iHost >= 0 ? labels[iHost]! : '';
        t.host(labels[iName]!, host, labels[iQueue]!).lastSeen = lastSeen.get(host) ?? nowMs;
      }
    }
  }
  for (const f of persistedHistograms(parts)) {
    for (const [labels, counts, sum, count] of s.histograms[f.name] ?? []) {
      const h = f.labels(...labels);
      if (!h.live) continue;
      h.counts.set(counts);
      h.sum = sum;
      h.count = count;
      series++;
    }
  }
  for (const w of s.workers) state.workers.restore(w, nowMs);
  const str = (i: number) => (i < 0 ? undefined : s.strings[i]);
  const { uuids, refs, created, times, attempts } = s.tasks;
  for (let i = 0; i < uuids.length; i++) {
    const r = state.tracker.getOrCreate(uuids[i]!, created[i]!);
    const name = str(refs[3 * i]!);
    r.name = name === undefined ? undefined : names.resolve(name);
    r.queue = str(refs[3 * i + 1]!);
    r.hostname = str(refs[3 * i + 2]!);
    for (let k = 0; k < NT; k++) {
      const v = times[NT * i + k];
      r[TIME_FIELDS[k]!] = v === null || v === undefined ? NaN : s.timeBase + v / 1e6;
    }
    for (let k = 0; k < NA; k++) r[ATTEMPT_FIELDS[k]!] = attempts[NA * i + k]!;
    if (r.queue !== undefined && !Number.isNaN(r.sent)) state.queues.seen(r.queue, 'event');
  }
  return { series, workers: s.workers.length, tasks: uuids.length };
}

function isWorker(v: unknown): boolean {
  if (!isObject(v)) return false;
  const w = v as Record<string, unknown>;
  return (
    typeof w['hostname'] === 'string' &&
    isFiniteNumber(w['lastSeen']) &&
    isFiniteNumber(w['freq']) &&
    (w['freq'] as number) > 0 &&
    typeof w['up'] === 'boolean' &&
    isFiniteNumber(w['heartbeat']) &&
    isFiniteNumber(w['active']) &&
    isFiniteNumber(w['processed']) &&
    Array.isArray(w['load']) &&
    w['load'].every(isFiniteNumber) &&
    (w['info'] === undefined || (Array.isArray(w['info']) && w['info'].every((x) => typeof x === 'string')))
  );
}

function isObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return isFiniteNumber(v) && v >= 0;
}
