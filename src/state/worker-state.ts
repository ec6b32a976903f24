import type { RawEvent, WorkerEventType } from '../events/vocabulary.js';
import type { GaugeChild } from '../metrics/gauge.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import type { LabelPolicy } from './labels.js';
import { isFiniteNumber } from '../util/numbers.js';

/** Celery's default heartbeat interval, used when an event carries no usable `freq`. */
const DEFAULT_FREQ = 2;
/** Celery's HEARTBEAT_EXPIRE_WINDOW: a worker is alive until 2 × freq after its last heartbeat. */
const EXPIRE_FACTOR = 2;
const PERIODS = ['1m', '5m', '15m'] as const;

class WorkerRecord {
  /** Local time (ms) of the last online/heartbeat event. */
  lastSeen = 0;
  freq = DEFAULT_FREQ;
  up = false;
  info: string[] | undefined = undefined;
  /** Local time (ms) it was restored from the state file: its heartbeat timeout counts from then. */
  restoredAt = 0;
  constructor(
    readonly hostname: string,
    readonly upChild: GaugeChild,
    readonly active: GaugeChild,
    readonly processed: GaugeChild,
    readonly lastHeartbeat: GaugeChild,
    readonly load: GaugeChild[],
  ) {}
}

/** One worker as the state file keeps it (see src/continuity). */
export interface WorkerSnapshot {
  hostname: string;
  lastSeen: number;
  freq: number;
  up: boolean;
  heartbeat: number;
  active: number;
  processed: number;
  load: number[];
  info: string[] | undefined;
}

export interface WorkerStateOptions {
  /** Seconds without a heartbeat before a worker counts as down; undefined = 2 × its `freq`; 0 = never. */
  workerTimeout: number | undefined;
  /** Seconds after a worker was last seen before all its series are removed; 0 = never. */
  purgeAfter: number;
  /** Most workers tracked; events of further workers are ignored (a flood of hostnames stays bounded). */
  maxWorkers?: number;
  onRejected?: () => void;
}

export interface WorkerStateHooks {
  /** Remove every series carrying this hostname label value (all families). */
  purgeHostname(hostname: string): void;
  onWorkerDown?(hostname: string, reason: 'offline' | 'timeout'): void;
  /** `node` is the node name as the worker sent it (the hostname label may be shortened). */
  onWorkerUp?(hostname: string, node: string): void;
}

/** Worker liveness and heartbeat gauges. */
export class WorkerState {
  private readonly workers = new Map<string, WorkerRecord>();

  constructor(
    private readonly metrics: WorkerMetrics,
    private readonly labels: LabelPolicy,
    private readonly opts: WorkerStateOptions,
    private readonly hooks: WorkerStateHooks,
  ) {}

  get size(): number {
    return this.workers.size;
  }

  handle(type: WorkerEventType, ev: RawEvent, ts: number, nowMs: number): void {
    const hostname = this.labels.hostname(ev['hostname']);
    const w = this.record(hostname);
    if (w === undefined) return this.opts.onRejected?.();
    if (type === 'worker-offline') {
      w.lastSeen = nowMs;
      this.markDown(w, 'offline');
      return;
    }
    w.lastSeen = nowMs;
    const freq = ev['freq'];
    w.freq = isFiniteNumber(freq) && freq > 0 ? freq : DEFAULT_FREQ;
    if (!w.up) {
      w.up = true;
      w.upChild.set(1);
      this.hooks.onWorkerUp?.(hostname, typeof ev['hostname'] === 'string' ? ev['hostname'] : hostname);
    }
    if (!Number.isNaN(ts)) w.lastHeartbeat.set(ts);
    // The remote `heartbeat` command's events carry no active/processed/loadavg: keep the last values.
    const active = ev['active'];
    if (isFiniteNumber(active)) w.active.set(active);
    const processed = ev['processed'];
    if (isFiniteNumber(processed)) w.processed.set(processed);
    const loadavg = ev['loadavg'];
    if (Array.isArray(loadavg)) {
      for (let i = 0; i < 3 && i < loadavg.length; i++) {
        const v = loadavg[i];
        if (isFiniteNumber(v)) w.load[i]!.set(v);
      }
    }
    this.updateInfo(w, ev);
  }

  /** Marks silent workers down and purges long-gone ones; called about once a second. */
  tick(nowMs: number): void {
    for (const w of this.workers.values()) {
      const silentFor = (nowMs - w.lastSeen) / 1000;
      const timeout = this.opts.workerTimeout ?? w.freq * EXPIRE_FACTOR;
      const silentSinceRestore = (nowMs - Math.max(w.lastSeen, w.restoredAt)) / 1000;
      if (w.up && timeout > 0 && silentSinceRestore > timeout) this.markDown(w, 'timeout');
      if (!w.up && this.opts.purgeAfter > 0 && silentFor > this.opts.purgeAfter) {
        this.workers.delete(w.hostname);
        this.hooks.purgeHostname(w.hostname);
      }
    }
  }

  isKnown(hostname: string): boolean {
    return this.workers.has(hostname);
  }

  isUp(hostname: string): boolean {
    return this.workers.get(hostname)?.up ?? false;
  }

  hostnames(): IterableIterator<string> {
    return this.workers.keys();
  }

  /** The worker table, for the state file. */
  *snapshot(): IterableIterator<WorkerSnapshot> {
    for (const w of this.workers.values()) {
      yield {
        hostname: w.hostname,
        lastSeen: w.lastSeen,
        freq: w.freq,
        up: w.up,
        heartbeat: w.lastHeartbeat.value,
        active: w.active.value,
        processed: w.processed.value,
        load: w.load.map((g) => g.value),
        info: w.info,
      };
    }
  }

  /**
   * Restores a worker saved by snapshot(). One that was up gets a full heartbeat window from
   * `nowMs` to show it is still there, so its running tasks are not dropped by the first tick
   * after a restart (a worker that died meanwhile is marked down one window later); the purge
   * still counts from when it was last seen.
   */
  restore(s: WorkerSnapshot, nowMs: number): void {
    const w = this.record(s.hostname);
    if (w === undefined) return this.opts.onRejected?.();
    w.freq = s.freq;
    w.up = s.up;
    w.lastSeen = s.lastSeen;
    w.restoredAt = nowMs;
    w.upChild.set(s.up ? 1 : 0);
    w.lastHeartbeat.set(s.heartbeat);
    w.active.set(s.active);
    w.processed.set(s.processed);
    for (let i = 0; i < w.load.length && i < s.load.length; i++) w.load[i]!.set(s.load[i]!);
    if (s.info !== undefined && s.info.length === 4 && s.info[0] === s.hostname) {
      this.metrics.info.labels(...s.info).set(1);
      w.info = s.info;
    }
  }

  /** Forget a worker record (its series were removed elsewhere). */
  forget(hostname: string): void {
    this.workers.delete(hostname);
  }

  private markDown(w: WorkerRecord, reason: 'offline' | 'timeout'): void {
    const wasUp = w.up;
    w.up = false;
    w.upChild.set(0);
    w.active.set(0);
    if (wasUp) this.hooks.onWorkerDown?.(w.hostname, reason);
  }

  private record(hostname: string): WorkerRecord | undefined {
    let w = this.workers.get(hostname);
    if (w === undefined && this.workers.size >= (this.opts.maxWorkers ?? Infinity)) return undefined;
    if (w === undefined || !w.upChild.live) {
      const m = this.metrics;
      w = new WorkerRecord(
        hostname,
        m.up.labels(hostname),
        m.tasksActive.labels(hostname),
        m.tasksProcessed.labels(hostname),
        m.lastHeartbeat.labels(hostname),
        PERIODS.map((p) => m.loadAverage.labels(hostname, p)),
      );
      this.workers.set(hostname, w);
    }
    return w;
  }

  private updateInfo(w: WorkerRecord, ev: RawEvent): void {
    const ident = str(ev['sw_ident']);
    const ver = str(ev['sw_ver']);
    const sys = str(ev['sw_sys']);
    if (ident === undefined && ver === undefined && sys === undefined) return;
    const next = [w.hostname, this.labels.cap(ident ?? ''), this.labels.cap(ver ?? ''), this.labels.cap(sys ?? '')];
    const prev = w.info;
    if (prev !== undefined && prev[1] === next[1] && prev[2] === next[2] && prev[3] === next[3]) return;
    if (prev !== undefined) this.metrics.info.remove(...prev);
    this.metrics.info.labels(...next).set(1);
    w.info = next;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
