import type { Counter, CounterChild } from './counter.js';
import { ExceptionLabels } from './exception-labels.js';
import type { Histogram } from './histogram.js';
import type { MetricRegistry } from './registry.js';
import { registerTaskFamilies, type TaskMetricsOptions } from './task-families.js';
import { HostSeen, HostSeries, NameQueueSeries } from './task-series.js';

export { OTHER_EXCEPTION } from './exception-labels.js';
export type { TaskMetricsOptions } from './task-families.js';
export type { HostSeen, HostSeries, NameQueueSeries } from './task-series.js';

/** Share of --max-series below which new task series get their zero-started siblings. */
const ZERO_START_SHARE = 0.5;

/**
 * The task metric families and the caches that let one event update them without
 * building label objects: series are looked up through nested maps name → host → queue.
 * The families are declared in task-families.ts, the cached series in task-series.ts.
 */
export class TaskMetrics {
  readonly sent: Counter;
  readonly received: Counter;
  readonly started: Counter;
  readonly succeeded: Counter;
  readonly failed: Counter;
  readonly rejected: Counter;
  readonly revoked: Counter;
  readonly retried: Counter;
  readonly runtime: Histogram;
  readonly queueWait: Histogram;
  readonly prefetchWait: Histogram;
  readonly latency: Histogram;
  readonly compatRuntime: Histogram | undefined;

  private readonly hostCache = new Map<string, Map<string, Map<string, HostSeries>>>();
  private readonly nqCache = new Map<string, Map<string, NameQueueSeries>>();
  /**
   * hostname → its last-seen clock, for the hostnames with cached series: the purge scans this
   * flat map (one entry per host) instead of every (name, host, queue), and can resume a scan
   * across ticks with a live iterator (see hostClocks).
   */
  private readonly seenByHost = new Map<string, HostSeen>();
  private readonly dropHostname: boolean;
  private readonly dropException: boolean;
  private readonly exceptions: ExceptionLabels;

  constructor(
    private readonly reg: MetricRegistry,
    opts: TaskMetricsOptions,
  ) {
    this.dropHostname = opts.dropLabels?.has('hostname') ?? false;
    this.dropException = opts.dropLabels?.has('exception') ?? false;
    this.exceptions = new ExceptionLabels(opts.maxExceptionClasses ?? 0);
    const families = registerTaskFamilies(reg, opts);
    this.sent = families.sent;
    this.received = families.received;
    this.started = families.started;
    this.succeeded = families.succeeded;
    this.failed = families.failed;
    this.rejected = families.rejected;
    this.revoked = families.revoked;
    this.retried = families.retried;
    this.runtime = families.runtime;
    this.queueWait = families.queueWait;
    this.prefetchWait = families.prefetchWait;
    this.latency = families.latency;
    this.compatRuntime = families.compatRuntime;
  }

  host(name: string, hostname: string, queue: string): HostSeries {
    if (this.dropHostname) hostname = '';
    let byHost = this.hostCache.get(name);
    let byQueue = byHost?.get(hostname);
    let s = byQueue?.get(queue);
    if (s !== undefined) return s;
    const full = this.reg.full;
    let seen = this.seenByHost.get(hostname);
    if (seen === undefined) {
      seen = new HostSeen(hostname);
      if (!full) this.seenByHost.set(hostname, seen);
    }
    s = new HostSeries(name, hostname, queue, this.dropHostname ? [name, queue] : [name, hostname, queue], seen);
    // At the series cap a new label set is not cached either (its series are refused and counted
    // by the registry), so a flood of label values cannot grow memory.
    if (full) return s;
    if (byHost === undefined) this.hostCache.set(name, (byHost = new Map()));
    if (byQueue === undefined) byHost.set(hostname, (byQueue = new Map()));
    byQueue.set(queue, s);
    return s;
  }

  nameQueue(name: string, queue: string): NameQueueSeries {
    let byQueue = this.nqCache.get(name);
    let s = byQueue?.get(queue);
    if (s !== undefined) return s;
    s = new NameQueueSeries(name, queue);
    if (this.reg.full) return s;
    if (byQueue === undefined) this.nqCache.set(name, (byQueue = new Map()));
    byQueue.set(queue, s);
    return s;
  }

  countSent(s: HostSeries): void {
    (s.sent ??= this.sent.labels(...s.values)).inc();
  }
  countReceived(s: HostSeries): void {
    (s.received ??= this.received.labels(...s.values)).inc();
    if (!s.zeroed) this.zeroWorkerSide(s);
  }
  countStarted(s: HostSeries): void {
    (s.started ??= this.started.labels(...s.values)).inc();
    if (!s.zeroed) this.zeroWorkerSide(s);
  }
  countSucceeded(s: HostSeries): void {
    (s.succeeded ??= this.succeeded.labels(...s.values)).inc();
    if (!s.zeroed) this.zeroWorkerSide(s);
  }
  countRejected(s: HostSeries): void {
    (s.rejected ??= this.rejected.labels(...s.values)).inc();
    if (!s.zeroed) this.zeroWorkerSide(s);
  }
  countRevoked(s: HostSeries): void {
    (s.revoked ??= this.revoked.labels(...s.values)).inc();
    if (!s.zeroed) this.zeroWorkerSide(s);
  }
  countRetried(s: HostSeries): void {
    (s.retried ??= this.retried.labels(...s.values)).inc();
    if (!s.zeroed) this.zeroWorkerSide(s);
  }
  /** The exception label value of a class (see ExceptionLabels). */
  exceptionLabel(exception: string): string {
    return this.exceptions.label(exception);
  }

  /** Restored from --state-file: the class keeps its place (see ExceptionLabels.seed). */
  seedException(exception: string): void {
    this.exceptions.seed(exception);
  }

  countFailed(s: HostSeries, raw: string): void {
    const exception = this.dropException ? '' : this.exceptionLabel(raw);
    this.failedChild(s, exception, true).inc();
    if (!s.zeroed) this.zeroWorkerSide(s);
  }

  /** `keepRefused`: cache a series the cap refused, so the next event does not ask again. */
  private failedChild(s: HostSeries, exception: string, keepRefused: boolean): CounterChild {
    const byExc = (s.failed ??= new Map());
    let c = byExc.get(exception);
    if (c === undefined) {
      const values = [s.name];
      if (!this.dropHostname) values.push(s.hostname);
      if (!this.dropException) values.push(exception);
      values.push(s.queue);
      c = this.failed.labels(...values);
      if (c.live || keepRefused) byExc.set(exception, c);
    }
    return c;
  }

  /**
   * The first worker-side event of a (name, hostname, queue) creates all its worker-side state
   * counters at 0, as the Python celery-exporter does: `increase(celery_task_revoked_total[…])`
   * then reads 0 instead of "no data", and succeeded / (succeeded + failed) per task exists for a
   * task that never failed. Failed gets `exception=""`, which Prometheus stores as a series
   * without the exception label: no class is invented, and `sum by (name)` keeps it. task-sent
   * is left alone (its hostname is the producer's, which receives nothing). These series count
   * against --max-series; one refused at the cap is left unset, to be created by its first event.
   */
  private zeroWorkerSide(s: HostSeries): void {
    s.zeroed = true;
    // Zeros are a convenience, not a count: they are made only while half the --max-series budget
    // is free. Seven zero series per new hostname let a flood of forged hostnames fill every
    // worker-side family at once, past the per-family headroom, and starve a new legitimate task.
    const limit = this.reg.seriesLimit;
    if (limit > 0 && this.reg.totalSeries >= limit * ZERO_START_SHARE) return;
    const v = s.values;
    const live = (c: CounterChild) => (c.live ? c : undefined);
    s.received ??= live(this.received.labels(...v));
    s.started ??= live(this.started.labels(...v));
    s.succeeded ??= live(this.succeeded.labels(...v));
    s.rejected ??= live(this.rejected.labels(...v));
    s.revoked ??= live(this.revoked.labels(...v));
    s.retried ??= live(this.retried.labels(...v));
    this.failedChild(s, '', false);
  }

  observeRuntime(nq: NameQueueSeries, hs: HostSeries, state: 'succeeded' | 'failed', seconds: number): void {
    if (state === 'succeeded') {
      (nq.runtimeSucceeded ??= this.runtime.labels(nq.name, nq.queue, 'succeeded')).observe(seconds);
      if (this.compatRuntime !== undefined) {
        (hs.compatRuntime ??= this.compatRuntime.labels(...hs.values)).observe(seconds);
      }
    } else {
      (nq.runtimeFailed ??= this.runtime.labels(nq.name, nq.queue, 'failed')).observe(seconds);
    }
  }
  observeQueueWait(nq: NameQueueSeries, seconds: number): void {
    (nq.queueWait ??= this.queueWait.labels(nq.name, nq.queue)).observe(seconds);
  }
  observePrefetchWait(nq: NameQueueSeries, seconds: number): void {
    (nq.prefetchWait ??= this.prefetchWait.labels(nq.name, nq.queue)).observe(seconds);
  }
  observeLatency(nq: NameQueueSeries, seconds: number): void {
    (nq.latency ??= this.latency.labels(nq.name, nq.queue)).observe(seconds);
  }

  /** Hostnames with task series and when they were last seen (ms), for the state file. */
  *hostnames(): IterableIterator<[string, number]> {
    for (const h of this.seenByHost.values()) yield [h.hostname, h.lastSeen];
  }

  /**
   * The hostnames' last-seen clocks, as a live iterator: a purge scan keeps it across ticks and
   * resumes where it stopped. Hosts forgotten meanwhile are skipped, hosts added meanwhile are
   * visited (Map iteration order is insertion order, and survives deletions).
   */
  hostClocks(): IterableIterator<HostSeen> {
    return this.seenByHost.values();
  }

  /** Hostnames with cached task series. */
  get hostCount(): number {
    return this.seenByHost.size;
  }

  /** Drops the cached series of a hostname after the registry removed them. */
  forgetHost(hostname: string): void {
    this.seenByHost.delete(hostname);
    for (const [name, byHost] of this.hostCache) {
      const byQueue = byHost.get(hostname);
      if (byQueue !== undefined) for (const s of byQueue.values()) s.purged = true;
      byHost.delete(hostname);
      if (byHost.size === 0) this.hostCache.delete(name);
    }
  }
}
