import type { RateLimitedLog } from '../log.js';
import type { Counter } from '../metrics/counter.js';
import type { Gauge } from '../metrics/gauge.js';
import type { InspectMetrics } from '../metrics/inspect-metrics.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import type { Collector } from '../pollers/collector.js';
import type { LabelPolicy } from '../state/labels.js';
import type { QueueRegistry } from '../state/queue-registry.js';
import type { WorkerState } from '../state/worker-state.js';
import type { NodeReply, RemoteControl } from './client.js';
import { isErrorReply, isPong, listLength, maxRssBytes, queueNames, readStats, type WorkerStats } from './worker-replies.js';

export interface InspectPollerDeps {
  rc: RemoteControl;
  metrics: InspectMetrics;
  /** Heartbeat gauges: `tasks_active` for utilisation, `info` for the worker OS. */
  workerMetrics: WorkerMetrics;
  workers: Pick<WorkerState, 'hostnames' | 'isKnown'>;
  queues: QueueRegistry;
  labels: LabelPolicy;
  /** Removes every series of a host (the core's purge). */
  purgeHostname(hostname: string): void;
  log: RateLimitedLog;
}

export interface InspectPollerOptions {
  /** Celery's inspect timeout: the inactivity gap that ends each call. */
  replyTimeoutMs: number;
  /** A host that answers no call for this long, and is not known from events, is purged; 0 = never. */
  purgeAfterMs: number;
}

/** One round's replies, by method. */
export interface InspectRound {
  ping: readonly NodeReply[];
  stats: readonly NodeReply[];
  activeQueues: readonly NodeReply[];
  reserved: readonly NodeReply[];
  scheduled: readonly NodeReply[];
}

type Family = Gauge | Counter;

/** How long a worker first seen in events may stay silent before its ping_success says 0. */
export const STARTUP_GRACE_MS = 10_000;

/**
 * Polls ping, stats, active_queues, reserved and scheduled, and turns the replies into the
 * worker pool and per-queue gauges. A worker that stops answering loses its inspect series
 * (ping_success stays, at 0, until the worker is purged); a failed round withdraws them all.
 */
export class InspectPoller implements Collector {
  readonly name = 'inspect';
  /** Local time each host last answered, for hosts the event stream may not know. */
  private readonly lastReply = new Map<string, number>();
  /** When a host known from events but never answering was first missed (its startup grace). */
  private readonly firstMissed = new Map<string, number>();

  constructor(
    private readonly d: InspectPollerDeps,
    private readonly opts: InspectPollerOptions,
    private readonly now: () => number = Date.now,
  ) {
    d.metrics.utilization.collect = () => this.updateUtilization();
  }

  async collect(signal: AbortSignal): Promise<void> {
    const call = (method: string) => this.d.rc.call(method, { timeoutMs: this.opts.replyTimeoutMs, signal }).then((r) => r.replies);
    // Ping alone first, so its reply time is not spent queued behind the heavier calls.
    const ping = await call('ping');
    const [stats, activeQueues, reserved, scheduled] = await Promise.all([
      call('stats'),
      call('active_queues'),
      call('reserved'),
      call('scheduled'),
    ]);
    this.apply({ ping, stats, activeQueues, reserved, scheduled });
  }

  onFailure(): void {
    const m = this.d.metrics;
    for (const f of [...m.perWorker, m.queueWorkers, m.queueProcesses, m.workerQueues]) f.clear();
  }

  async close(): Promise<void> {
    await this.d.rc.close();
  }

  /** Writes one round's replies to the metric families (public for the unit tests). */
  apply(round: InspectRound): void {
    const m = this.d.metrics;
    const now = this.now();
    const written = new Map<Family, Set<string>>();
    const set = (f: Gauge, host: string, v: number | undefined) => {
      if (v === undefined) return;
      f.labels(host).set(v);
      mark(written, f, host);
    };
    const setCounter = (f: Counter, host: string, v: number | undefined) => {
      if (v === undefined) return;
      f.labels(host).set(v);
      mark(written, f, host);
    };
    const seen = (host: string) => this.lastReply.set(host, now);

    const answered = new Set<string>();
    for (const r of round.ping) {
      const host = this.d.labels.hostname(r.hostname);
      seen(host);
      answered.add(host);
      const ok = isPong(r.value);
      set(m.pingSuccess, host, ok ? 1 : 0);
      if (ok) set(m.pingDuration, host, r.elapsedMs / 1000);
    }

    const statsByHost = new Map<string, WorkerStats>();
    for (const r of round.stats) {
      const host = this.d.labels.hostname(r.hostname);
      seen(host);
      const s = readStats(r.value);
      if (s === undefined) {
        this.warnError('stats', host, r.value);
        continue;
      }
      statsByHost.set(host, s);
      set(m.maxConcurrency, host, s.maxConcurrency);
      set(m.processes, host, s.processes);
      set(m.prefetchCount, host, s.prefetchCount);
      set(m.uptime, host, s.uptime);
      setCounter(m.cpuUser, host, s.cpuUser);
      setCounter(m.cpuSystem, host, s.cpuSystem);
      if (s.maxRss !== undefined) set(m.maxRss, host, maxRssBytes(s.maxRss, this.swSys(host)));
    }

    for (const [replies, family, method] of [
      [round.reserved, m.reserved, 'reserved'],
      [round.scheduled, m.scheduled, 'scheduled'],
    ] as const) {
      for (const r of replies) {
        const host = this.d.labels.hostname(r.hostname);
        seen(host);
        const n = listLength(r.value);
        if (n === undefined) this.warnError(method, host, r.value);
        set(family, host, n);
      }
    }

    const workersByQueue = new Map<string, number>();
    const processesByQueue = new Map<string, number>();
    const consumed = new Set<string>();
    for (const r of round.activeQueues) {
      const host = this.d.labels.hostname(r.hostname);
      seen(host);
      const names = queueNames(r.value);
      if (names === undefined) {
        this.warnError('active_queues', host, r.value);
        continue;
      }
      const procs = statsByHost.get(host)?.processes ?? 0;
      for (const q of new Set(names)) {
        this.d.queues.seen(q, 'worker');
        workersByQueue.set(q, (workersByQueue.get(q) ?? 0) + 1);
        processesByQueue.set(q, (processesByQueue.get(q) ?? 0) + procs);
        m.workerQueues.labels(host, q).set(1);
        consumed.add(`${host}\u0000${q}`);
      }
    }
    for (const child of [...m.workerQueues.series()]) {
      const [host, q] = child.labelValues as [string, string];
      if (!consumed.has(`${host}\u0000${q}`)) m.workerQueues.remove(host, q);
    }
    this.writeQueues(workersByQueue, processesByQueue);

    this.markSilentHosts(answered, now, written);
    for (const f of m.perWorker) {
      if (f === m.utilization) continue;
      const keep = written.get(f);
      for (const child of [...f.series()]) {
        const host = child.labelValues[0]!;
        if (keep === undefined || !keep.has(host)) f.remove(host);
      }
    }
    this.updateUtilization();
  }

  /**
   * Known workers that did not answer the ping get ping_success 0. "Known": seen in events, or
   * answered before and not purged since. A host only remote control knows is purged after the
   * purge delay without an answer.
   */
  private markSilentHosts(answered: Set<string>, now: number, written: Map<Family, Set<string>>): void {
    const m = this.d.metrics;
    const silent = new Set<string>();
    for (const h of this.d.workers.hostnames()) if (!answered.has(h)) silent.add(h);
    for (const h of this.lastReply.keys()) if (!answered.has(h)) silent.add(h);
    for (const h of this.firstMissed.keys()) if (!silent.has(h)) this.firstMissed.delete(h);
    for (const host of silent) {
      const last = this.lastReply.get(host);
      const known = this.d.workers.isKnown(host);
      if (last === undefined) {
        // A worker announces itself (worker-online) a moment before its remote-control consumer
        // is up: a ping in between is lost. Not answering means something only after the grace.
        const since = this.firstMissed.get(host) ?? now;
        this.firstMissed.set(host, since);
        if (now - since < STARTUP_GRACE_MS) continue;
      }
      if (!known && last !== undefined) {
        if (m.pingSuccess.peek(host) === undefined && last < now) {
          // Its series were purged (by the event side or by us): forget it.
          this.lastReply.delete(host);
          continue;
        }
        if (this.opts.purgeAfterMs > 0 && now - last > this.opts.purgeAfterMs) {
          this.lastReply.delete(host);
          this.d.purgeHostname(host);
          continue;
        }
      }
      m.pingSuccess.labels(host).set(0);
      mark(written, m.pingSuccess, host);
    }
  }

  private writeQueues(workers: Map<string, number>, processes: Map<string, number>): void {
    const m = this.d.metrics;
    // Every queue the exporter knows gets a value: 0 workers on a queue is worth alerting on.
    const queues = new Set([...this.d.queues.list(), ...workers.keys()]);
    for (const q of queues) {
      m.queueWorkers.labels(q).set(workers.get(q) ?? 0);
      m.queueProcesses.labels(q).set(processes.get(q) ?? 0);
    }
    for (const f of [m.queueWorkers, m.queueProcesses]) {
      for (const child of [...f.series()]) {
        const q = child.labelValues[0]!;
        if (!queues.has(q)) f.remove(q);
      }
    }
  }

  /** Busy slots ÷ pool size, from the latest heartbeat and the latest stats; run at each scrape. */
  private updateUtilization(): void {
    const m = this.d.metrics;
    const active = this.d.workerMetrics.tasksActive;
    const hosts = new Set<string>();
    for (const child of m.maxConcurrency.series()) {
      const host = child.labelValues[0]!;
      const busy = active.peek(host);
      if (child.value > 0 && busy !== undefined) {
        m.utilization.labels(host).set(busy.value / child.value);
        hosts.add(host);
      }
    }
    for (const child of [...m.utilization.series()]) {
      const host = child.labelValues[0]!;
      if (!hosts.has(host)) m.utilization.remove(host);
    }
  }

  /** The worker's OS from its heartbeats (celery_worker_info sw_sys), for ru_maxrss units. */
  private swSys(host: string): string | undefined {
    for (const child of this.d.workerMetrics.info.series()) {
      if (child.labelValues[0] === host) return child.labelValues[3];
    }
    return undefined;
  }

  private warnError(method: string, host: string, value: unknown): void {
    const detail = isErrorReply(value) ? String(value.error) : 'unexpected reply shape';
    this.d.log.warn(`inspect:${method}:${host}`, { hostname: host, method, error: detail.slice(0, 200) }, 'worker answered an inspect call with an error');
  }
}

function mark(written: Map<Family, Set<string>>, f: Family, host: string): void {
  let s = written.get(f);
  if (s === undefined) written.set(f, (s = new Set()));
  s.add(host);
}
