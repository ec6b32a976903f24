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
  /** Removes every series of a host (the event state's purge). */
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
    private readonly deps: InspectPollerDeps,
    private readonly opts: InspectPollerOptions,
    private readonly now: () => number = Date.now,
  ) {}

  async collect(signal: AbortSignal): Promise<void> {
    const call = (method: string) => this.deps.rc.call(method, { timeoutMs: this.opts.replyTimeoutMs, signal }).then((r) => r.replies);
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
    const m = this.deps.metrics;
    for (const f of [...m.perWorker, m.queueWorkers, m.queueProcesses, m.workerQueues]) f.clear();
  }

  async close(): Promise<void> {
    await this.deps.rc.close();
  }

  /** Writes one round's replies to the metric families (public for the unit tests). */
  apply(round: InspectRound): void {
    const r = new RoundWrites(this.now(), this.lastReply);
    this.writePings(round.ping, r);
    const statsByHost = this.writeStats(round.stats, r);
    this.writeListLengths(round, r);
    this.writeActiveQueues(round.activeQueues, statsByHost, r);
    this.markSilentHosts(r);
    // A family's series of hosts this round did not write go (utilization has its own rule).
    const m = this.deps.metrics;
    for (const f of m.perWorker) {
      if (f === m.utilization) continue;
      const keep = r.written.get(f);
      for (const child of [...f.series()]) {
        const host = child.labelValues[0]!;
        if (keep === undefined || !keep.has(host)) f.remove(host);
      }
    }
    this.updateUtilization();
  }

  private writePings(replies: readonly NodeReply[], r: RoundWrites): void {
    const m = this.deps.metrics;
    for (const reply of replies) {
      const host = r.seen(this.deps.labels.hostname(reply.hostname));
      r.answered.add(host);
      const ok = isPong(reply.value);
      r.set(m.pingSuccess, host, ok ? 1 : 0);
      if (ok) r.set(m.pingDuration, host, reply.elapsedMs / 1000);
    }
  }

  private writeStats(replies: readonly NodeReply[], r: RoundWrites): Map<string, WorkerStats> {
    const m = this.deps.metrics;
    const statsByHost = new Map<string, WorkerStats>();
    for (const reply of replies) {
      const host = r.seen(this.deps.labels.hostname(reply.hostname));
      const s = readStats(reply.value);
      if (s === undefined) {
        this.warnError('stats', host, reply.value);
        continue;
      }
      statsByHost.set(host, s);
      r.set(m.maxConcurrency, host, s.maxConcurrency);
      r.set(m.processes, host, s.processes);
      r.set(m.prefetchCount, host, s.prefetchCount);
      r.set(m.uptime, host, s.uptime);
      r.set(m.cpuUser, host, s.cpuUser);
      r.set(m.cpuSystem, host, s.cpuSystem);
      if (s.maxRss !== undefined) r.set(m.maxRss, host, maxRssBytes(s.maxRss, this.swSys(host)));
    }
    return statsByHost;
  }

  /** reserved and scheduled: the length of each worker's list. */
  private writeListLengths(round: InspectRound, r: RoundWrites): void {
    const m = this.deps.metrics;
    for (const [replies, family, method] of [
      [round.reserved, m.reserved, 'reserved'],
      [round.scheduled, m.scheduled, 'scheduled'],
    ] as const) {
      for (const reply of replies) {
        const host = r.seen(this.deps.labels.hostname(reply.hostname));
        const n = listLength(reply.value);
        if (n === undefined) this.warnError(method, host, reply.value);
        r.set(family, host, n);
      }
    }
  }

  /** Which worker consumes which queue, and the workers and processes per queue. */
  private writeActiveQueues(replies: readonly NodeReply[], statsByHost: Map<string, WorkerStats>, r: RoundWrites): void {
    const m = this.deps.metrics;
    const workersByQueue = new Map<string, number>();
    const processesByQueue = new Map<string, number>();
    const consumed = new Set<string>();
    for (const reply of replies) {
      const host = r.seen(this.deps.labels.hostname(reply.hostname));
      const names = queueNames(reply.value);
      if (names === undefined) {
        this.warnError('active_queues', host, reply.value);
        continue;
      }
      const procs = statsByHost.get(host)?.processes ?? 0;
      for (const q of new Set(names)) {
        this.deps.queues.seen(q, 'worker');
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
  }

  /**
   * Known workers that did not answer the ping get ping_success 0. "Known": seen in events, or
   * answered before and not purged since. A host only remote control knows is purged after the
   * purge delay without an answer.
   */
  private markSilentHosts(r: RoundWrites): void {
    const { answered, now } = r;
    const m = this.deps.metrics;
    const silent = new Set<string>();
    for (const h of this.deps.workers.hostnames()) if (!answered.has(h)) silent.add(h);
    for (const h of this.lastReply.keys()) if (!answered.has(h)) silent.add(h);
    for (const h of this.firstMissed.keys()) if (!silent.has(h)) this.firstMissed.delete(h);
    for (const host of silent) {
      const last = this.lastReply.get(host);
      const known = this.deps.workers.isKnown(host);
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
          this.deps.purgeHostname(host);
          continue;
        }
      }
      r.set(m.pingSuccess, host, 0);
    }
  }

  private writeQueues(workers: Map<string, number>, processes: Map<string, number>): void {
    const m = this.deps.metrics;
    // Every queue the exporter knows gets a value: 0 workers on a queue is worth alerting on.
    const queues = new Set([...this.deps.queues.list(), ...workers.keys()]);
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

  /** Busy slots ÷ pool size, from the latest heartbeat and the latest stats; run at each scrape (a registry step: see inspectPollerFor). */
  updateUtilization(): void {
    const m = this.deps.metrics;
    const active = this.deps.workerMetrics.tasksActive;
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
    for (const child of this.deps.workerMetrics.info.series()) {
      if (child.labelValues[0] === host) return child.labelValues[3];
    }
    return undefined;
  }

  private warnError(method: string, host: string, value: unknown): void {
    const detail = isErrorReply(value) ? String(value.error) : 'unexpected reply shape';
    this.deps.log.warn(`inspect:${method}:${host}`, { hostname: host, method, error: detail.slice(0, 200) }, 'worker answered an inspect call with an error');
  }
}

/** What one round wrote (by family, the hosts) and which hosts answered the ping. */
class RoundWrites {
  readonly written = new Map<Family, Set<string>>();
  readonly answered = new Set<string>();

  constructor(
    readonly now: number,
    private readonly lastReply: Map<string, number>,
  ) {}

  /** A host answered some call now; returns it. */
  seen(host: string): string {
    this.lastReply.set(host, this.now);
    return host;
  }

  set(f: Family, host: string, v: number | undefined): void {
    if (v === undefined) return;
    f.labels(host).set(v);
    let hosts = this.written.get(f);
    if (hosts === undefined) this.written.set(f, (hosts = new Set()));
    hosts.add(host);
  }
}
