import { Counter, type CounterChild } from './counter.js';
import { Histogram, type HistogramChild } from './histogram.js';
import type { MetricRegistry } from './registry.js';

export interface TaskMetricsOptions {
  runtimeBuckets: readonly number[];
  queueWaitBuckets: readonly number[];
  latencyBuckets: readonly number[];
  /** Also expose the Python celery-exporter's `celery_task_runtime` histogram. */
  celeryExporterNames: boolean;
  /** Labels left out of the task metrics (--drop-label): hostname, exception. */
  dropLabels?: ReadonlySet<'hostname' | 'exception'>;
  /** Exception classes with their own series; later ones fold into __other__ (0 = no limit). */
  maxExceptionClasses?: number;
}

/** The exception label value of classes beyond --max-exception-classes (as task names fold). */
export const OTHER_EXCEPTION = '__other__';
/** Folded classes remembered (so a folded class is not judged again); beyond it, it is judged again (it folds). */
const MAX_FOLDED_EXCEPTIONS = 10_000;

const HOST_LABELS = ['name', 'hostname', 'queue_name'] as const;

/** When a hostname was last seen on a task event, shared by all its series (the purge reads it). */
export class HostSeen {
  /** Local time (ms). */
  lastSeen = 0;
  constructor(readonly hostname: string) {}
}

/** Counter series of one (name, hostname, queue_name), created on first use. */
export class HostSeries {
  sent: CounterChild | undefined;
  received: CounterChild | undefined;
  started: CounterChild | undefined;
  succeeded: CounterChild | undefined;
  rejected: CounterChild | undefined;
  revoked: CounterChild | undefined;
  retried: CounterChild | undefined;
  failed: Map<string, CounterChild> | undefined;
  compatRuntime: HistogramChild | undefined;
  /** Set once the worker-side counters were created at 0 (see TaskMetrics.zeroWorkerSide). */
  zeroed = false;
  /** Set when the purge dropped this hostname: holders must look the series up again. */
  purged = false;
  constructor(
    readonly name: string,
    readonly hostname: string,
    readonly queue: string,
    /** Label values of the (name, hostname, queue_name) counters, hostname left out when dropped. */
    readonly values: readonly string[],
    /** The hostname's last-seen clock, one per hostname across task names and queues. */
    readonly seen: HostSeen,
  ) {}
  /** Local time (ms) this hostname was last seen on a task event; used by the purge. */
  get lastSeen(): number {
    return this.seen.lastSeen;
  }
  set lastSeen(ms: number) {
    this.seen.lastSeen = ms;
  }
}

/** Histogram series of one (name, queue_name), created on first use. */
export class NameQueueSeries {
  runtimeSucceeded: HistogramChild | undefined;
  runtimeFailed: HistogramChild | undefined;
  queueWait: HistogramChild | undefined;
  prefetchWait: HistogramChild | undefined;
  latency: HistogramChild | undefined;
  constructor(
    readonly name: string,
    readonly queue: string,
  ) {}
}

/**
 * The task metric families and the caches that let one event update them without
 * building label objects: series are looked up through nested maps name → host → queue.
 */
/** Share of --max-series below which new task series get their zero-started siblings. */
const ZERO_START_SHARE = 0.5;

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
  private readonly maxExceptions: number;
  private readonly exceptions = new Set<string>();
  private readonly foldedExceptions = new Set<string>();

  constructor(
    private readonly reg: MetricRegistry,
    opts: TaskMetricsOptions,
  ) {
    this.dropHostname = opts.dropLabels?.has('hostname') ?? false;
    this.dropException = opts.dropLabels?.has('exception') ?? false;
    this.maxExceptions = opts.maxExceptionClasses ?? 0;
    const keep = (names: readonly string[]) =>
      names.filter((n) => !(n === 'hostname' && this.dropHostname) && !(n === 'exception' && this.dropException));
    const counter = (event: string, help: string, labelNames: readonly string[] = HOST_LABELS) =>
      reg.register(new Counter({ name: `celery_task_${event}_total`, help, labelNames: keep(labelNames) }));
    this.sent = counter('sent', 'Tasks published (task-sent events; needs task_send_sent_event on producers).');
    this.received = counter('received', 'Tasks received by a worker (task-received events).');
    this.started = counter('started', 'Tasks started by a worker (task-started events).');
    this.succeeded = counter('succeeded', 'Tasks that succeeded (task-succeeded events).');
    this.failed = counter('failed', 'Tasks that failed, by exception class (task-failed events).', [
      'name',
      'hostname',
      'exception',
      'queue_name',
    ]);
    this.rejected = counter('rejected', 'Tasks rejected by a worker (task-rejected events).');
    this.revoked = counter('revoked', 'Tasks revoked (task-revoked events).');
    this.retried = counter('retried', 'Task executions that failed and will be retried (task-retried events).');
    this.runtime = reg.register(
      new Histogram({
        name: 'celery_task_runtime_seconds',
        help: 'Task execution time: the runtime Celery reports for succeeded tasks, started→failed for failed ones.',
        labelNames: ['name', 'queue_name', 'state'],
        buckets: opts.runtimeBuckets,
      }),
    );
    this.queueWait = reg.register(
      new Histogram({
        name: 'celery_task_queue_wait_seconds',
        help: 'Time from task-sent to task-started, excluding any ETA/countdown delay (needs task-sent events).',
        labelNames: ['name', 'queue_name'],
        buckets: opts.queueWaitBuckets,
      }),
    );
    this.prefetchWait = reg.register(
      new Histogram({
        name: 'celery_task_prefetch_wait_seconds',
        help: 'Time from task-received to task-started: how long a task waited prefetched at the worker (ETA excluded).',
        labelNames: ['name', 'queue_name'],
        buckets: opts.queueWaitBuckets,
      }),
    );
    this.latency = reg.register(
      new Histogram({
        name: 'celery_task_latency_seconds',
        help: 'Time from the first task-sent to task-succeeded or task-failed, retries included, ETA delay excluded.',
        labelNames: ['name', 'queue_name'],
        buckets: opts.latencyBuckets,
      }),
    );
    this.compatRuntime = opts.celeryExporterNames
      ? reg.register(
          new Histogram({
            name: 'celery_task_runtime',
            help: 'Runtime of succeeded tasks in seconds, under the Python celery-exporter name (--metric-names celery-exporter).',
            labelNames: keep(HOST_LABELS),
            buckets: opts.runtimeBuckets,
          }),
        )
      : undefined;
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
  /**
   * The exception label value: the first --max-exception-classes classes keep their own, later
   * ones fold into __other__. Anyone who can publish a task-failed event picks the class name:
   * 100k forged classes took the whole --max-series budget, and a new legitimate task then got
   * no series at all.
   */
  exceptionLabel(exception: string): string {
    if (this.maxExceptions === 0 || this.exceptions.has(exception)) return exception;
    if (this.foldedExceptions.has(exception)) return OTHER_EXCEPTION;
    if (this.exceptions.size < this.maxExceptions && exception !== OTHER_EXCEPTION) {
      this.exceptions.add(exception);
      return exception;
    }
    if (this.foldedExceptions.size < MAX_FOLDED_EXCEPTIONS) this.foldedExceptions.add(exception);
    return OTHER_EXCEPTION;
  }

  /**
   * A class that already has a celery_task_failed_total series (restored from --state-file)
   * keeps its place among the first --max-exception-classes, as it had before the restart.
   */
  seedException(exception: string): void {
    if (this.maxExceptions === 0 || exception === '' || exception === OTHER_EXCEPTION) return;
    if (this.exceptions.size < this.maxExceptions) this.exceptions.add(exception);
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
