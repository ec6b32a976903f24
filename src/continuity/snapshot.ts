import { createHash } from 'node:crypto';
import type { Core } from '../core.js';
import type { Counter } from '../metrics/counter.js';
import type { Histogram } from '../metrics/histogram.js';
import type { WorkerSnapshot } from '../state/worker-state.js';

/**
 * The part of the exporter's state that survives a restart, as plain data: the event-derived
 * counters and histograms (celery_task_*; the exporter's own celery_exporter_* metrics describe
 * one process and start again), the hosts' last-seen times (the purge), the worker table and
 * the in-flight tasks. Builds it from a Core, checks one read from disk, and applies it.
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
  /** [uuid, name, queue, hostname, createdAt, sent, firstSent, received, started, eta, firstEta]; null = NaN. */
  tasks: Array<[string, number, number, number, number, ...Array<number | null>]>;
}

const TIME_FIELDS = ['sent', 'firstSent', 'received', 'started', 'eta', 'firstEta'] as const;

export function persistedCounters(core: Core): Counter[] {
  const t = core.taskMetrics;
  return [t.sent, t.received, t.started, t.succeeded, t.failed, t.rejected, t.revoked, t.retried];
}

export function persistedHistograms(core: Core): Histogram[] {
  const t = core.taskMetrics;
  return [t.runtime, t.queueWait, t.prefetchWait, t.latency, ...(t.compatRuntime === undefined ? [] : [t.compatRuntime])];
}

/**
 * What must match for a saved state to mean the same thing here: every persisted family's
 * name, labels and buckets, and the settings that shape label values (hostname form, length
 * cap, task-name folding, static labels).
 */
export function fingerprint(core: Core, settings: Record<string, unknown>): string {
  const families = [
    ...persistedCounters(core).map((f) => [f.name, f.labelNames]),
    ...persistedHistograms(core).map((f) => [f.name, f.labelNames, Array.from(f.bounds)]),
  ];
  return createHash('sha256').update(JSON.stringify({ families, settings })).digest('hex').slice(0, 32);
}

export function takeSnapshot(core: Core, nowMs: number): Snapshot {
  const counters: Snapshot['counters'] = {};
  for (const f of persistedCounters(core)) {
    const rows: Array<[string[], number]> = [];
    for (const c of f.series()) rows.push([c.labelValues as string[], c.value]);
    counters[f.name] = rows;
  }
  const histograms: Snapshot['histograms'] = {};
  for (const f of persistedHistograms(core)) {
    const rows: Array<[string[], number[], number, number]> = [];
    for (const c of f.series()) rows.push([c.labelValues as string[], Array.from(c.counts), c.sum, c.count]);
    histograms[f.name] = rows;
  }
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
  const tasks: Snapshot['tasks'] = [];
  for (const [uuid, r] of core.tracker.entries()) {
    tasks.push([uuid, ref(r.name), ref(r.queue), ref(r.hostname), r.createdAt, r.sent, r.firstSent, r.received, r.started, r.eta, r.firstEta]);
  }
  return { savedAt: nowMs, counters, histograms, hosts: [...core.taskMetrics.hostnames()], workers: [...core.workers.snapshot()], strings, tasks };
}

/** Thrown by checkSnapshot: the file parsed but its content is not a usable state. */
export class SnapshotError extends Error {}

/**
 * Checks every part of a parsed state before anything is applied, so a bad file is rejected
 * whole (never half loaded). Returns the snapshot typed; throws SnapshotError.
 */
export function checkSnapshot(core: Core, data: unknown): Snapshot {
  const fail = (what: string): never => {
    throw new SnapshotError(what);
  };
  if (!isObject(data)) return fail('body is not an object');
  const s = data as Record<string, unknown>;
  if (!isNum(s['savedAt'])) fail('savedAt');
  const labelCount = new Map<string, number>();
  const buckets = new Map<string, number>();
  for (const f of persistedCounters(core)) labelCount.set(f.name, f.labelNames.length);
  for (const f of persistedHistograms(core)) {
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
      if (!Array.isArray(counts) || counts.length !== n || !counts.every(isCount) || !isNum(sum) || !isCount(count)) fail(`a series of ${name}`);
    }
  }
  if (!Array.isArray(s['hosts']) || !s['hosts'].every((h) => Array.isArray(h) && h.length === 2 && typeof h[0] === 'string' && isNum(h[1]))) fail('hosts');
  if (!Array.isArray(s['workers']) || !s['workers'].every(isWorker)) fail('workers');
  const strings = s['strings'];
  if (!Array.isArray(strings) || !strings.every((x) => typeof x === 'string')) fail('strings');
  const nStrings = (strings as string[]).length;
  const isRef = (v: unknown) => Number.isInteger(v) && (v as number) >= -1 && (v as number) < nStrings;
  const tasks = s['tasks'];
  if (!Array.isArray(tasks)) fail('tasks');
  for (const t of tasks as unknown[]) {
    if (!Array.isArray(t) || t.length !== 5 + TIME_FIELDS.length || typeof t[0] !== 'string' || t[0] === '') fail('a task');
    const row = t as unknown[];
    if (!isRef(row[1]) || !isRef(row[2]) || !isRef(row[3]) || !isNum(row[4])) fail('a task');
    for (let i = 5; i < row.length; i++) if (row[i] !== null && !isNum(row[i])) fail('a task');
  }
  return data as unknown as Snapshot;
}

export interface Restored {
  series: number;
  workers: number;
  tasks: number;
}

/** Applies a checked snapshot to a fresh Core (before any event). */
export function applySnapshot(core: Core, s: Snapshot, nowMs: number): Restored {
  const t = core.taskMetrics;
  const names = core.taskNames;
  const lastSeen = new Map(s.hosts);
  let series = 0;
  for (const f of persistedCounters(core)) {
    const rows = s.counters[f.name] ?? [];
    const iName = f.labelNames.indexOf('name');
    const iHost = f.labelNames.indexOf('hostname');
    const iQueue = f.labelNames.indexOf('queue_name');
    for (const [labels, value] of rows) {
      const c = f.labels(...labels);
      if (!c.live) continue; // over --max-series
      c.set(value);
      series++;
      // Keep the task-name budget and the hosts' purge clocks as they were.
      if (iName >= 0) names.resolve(labels[iName]!);
      if (iName >= 0 && iQueue >= 0) {
        const host = iHost >= 0 ? labels[iHost]! : '';
        t.host(labels[iName]!, host, labels[iQueue]!).lastSeen = lastSeen.get(host) ?? nowMs;
      }
    }
  }
  for (const f of persistedHistograms(core)) {
    for (const [labels, counts, sum, count] of s.histograms[f.name] ?? []) {
      const h = f.labels(...labels);
      if (!h.live) continue;
      h.counts.set(counts);
      h.sum = sum;
      h.count = count;
      series++;
    }
  }
  for (const w of s.workers) core.workers.restore(w, nowMs);
  const str = (i: number) => (i < 0 ? undefined : s.strings[i]);
  for (const row of s.tasks) {
    const r = core.tracker.getOrCreate(row[0], row[4]);
    const name = str(row[1]);
    r.name = name === undefined ? undefined : names.resolve(name);
    r.queue = str(row[2]);
    r.hostname = str(row[3]);
    for (let i = 0; i < TIME_FIELDS.length; i++) r[TIME_FIELDS[i]!] = (row[5 + i] as number | null) ?? NaN;
    if (r.queue !== undefined && r.sent === r.sent) core.queues.seen(r.queue, 'event');
  }
  return { series, workers: s.workers.length, tasks: s.tasks.length };
}

function isWorker(v: unknown): boolean {
  if (!isObject(v)) return false;
  const w = v as Record<string, unknown>;
  return (
    typeof w['hostname'] === 'string' &&
    isNum(w['lastSeen']) &&
    isNum(w['freq']) &&
    (w['freq'] as number) > 0 &&
    typeof w['up'] === 'boolean' &&
    isNum(w['heartbeat']) &&
    isNum(w['active']) &&
    isNum(w['processed']) &&
    Array.isArray(w['load']) &&
    w['load'].every(isNum) &&
    (w['info'] === undefined || (Array.isArray(w['info']) && w['info'].every((x) => typeof x === 'string')))
  );
}

function isObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isCount(v: unknown): v is number {
  return isNum(v) && v >= 0;
}
