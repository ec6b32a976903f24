import type { Config } from './config/config.js';
import { DEFAULT_LONG_RUNNING_TASK_THRESHOLD } from './config/defaults.js';
import type { Logger } from './log.js';
import { RateLimitedLog } from './log.js';
import { BacklogMetrics } from './metrics/backlog-metrics.js';
import { BrokerMetrics } from './metrics/broker-metrics.js';
import { ControlSelfMetrics, InspectMetrics } from './metrics/inspect-metrics.js';
import { QueueMetrics } from './metrics/queue-metrics.js';
import { PeriodicMetrics } from './metrics/periodic-metrics.js';
import { MetricRegistry } from './metrics/registry.js';
import { SelfMetrics } from './metrics/self-metrics.js';
import { STATE_TABLES, StateMetrics, type StateTable } from './metrics/state-metrics.js';
import { StreamMetrics } from './metrics/stream-metrics.js';
import { TaskMetrics, type HostSeen } from './metrics/task-metrics.js';
import { WorkerMetrics } from './metrics/worker-metrics.js';
import { EventPipeline } from './pipeline.js';
import { BacklogSignals } from './state/backlog.js';
import { LabelPolicy } from './state/labels.js';
import { PeriodicTasks } from './state/periodic.js';
import { QueueRegistry } from './state/queue-registry.js';
import { TaskEventHandler } from './state/task-events.js';
import { TaskNamePolicy } from './state/task-names.js';
import { MAX_HELD } from './state/reorder.js';
import { TaskTracker } from './state/task-tracker.js';
import { WorkerState } from './state/worker-state.js';
import { VERSION } from './version.js';

/**
 * Longest a tick spends on offline hosts (looking for stale ones, then purging them); the rest
 * waits for the next tick (a second later).
 */
const PURGE_SLICE_MS = 20;
/**
 * Part of that slice the scan for stale producer hosts may take; it resumes on the next tick.
 * One pass over 100,000 hosts in a single tick blocked the loop for ~80 ms on top of the purge.
 */
const SCAN_SLICE_MS = 10;
/** Purging always gets at least this much of a tick, so a long scan cannot starve it. */
const MIN_DRAIN_MS = 5;
/**
 * Longest a tick spends on held events whose window ran out, and on forgetting tasks past their
 * TTL; the rest waits for the next tick. At the caps (10,000 held tasks, 100,000 tracked ones
 * expiring together) these took ~65 and ~35 ms in one tick.
 */
const HELD_SLICE_MS = 10;
const SWEEP_SLICE_MS = 10;

/** Workers down in one tick logged one line each; more make one summary line. */
const WORKERS_DOWN_LINES = 10;

function* take<T>(it: Iterable<T>, n: number): IterableIterator<T> {
  if (n <= 0) return;
  for (const x of it) {
    yield x;
    if (--n === 0) return;
  }
}

/** Defaults of the bounds a hand-built CoreConfig may leave out (buildConfig always sets them). */
const DEFAULTS = { maxSeries: 100_000, maxWorkers: 5000, maxQueues: 1000, maxTaskNames: 1000, maxExceptionClasses: 100 };

/** The part of the configuration the core reads (no sockets, no timers). */
export type CoreConfig = Pick<Config, 'metrics' | 'workers'> & {
  brokerMasked: string;
  transport: string;
  queues?: readonly string[];
};

/**
 * decoder → state → metrics, without any I/O: the daemon wraps it with a transport, timers and
 * an HTTP server; tests and the benchmark drive it directly.
 */
export class Core {
  readonly registry: MetricRegistry;
  readonly self: SelfMetrics;
  readonly stream: StreamMetrics;
  readonly taskMetrics: TaskMetrics;
  readonly workerMetrics: WorkerMetrics;
  readonly queueMetrics: QueueMetrics;
  readonly brokerMetrics: BrokerMetrics;
  readonly backlogMetrics: BacklogMetrics;
  readonly backlog: BacklogSignals;
  readonly inspectMetrics: InspectMetrics;
  readonly controlMetrics: ControlSelfMetrics;
  readonly queues: QueueRegistry;
  readonly stateMetrics: StateMetrics;
  readonly taskNames: TaskNamePolicy;
  readonly tracker: TaskTracker;
  readonly workers: WorkerState;
  readonly tasks: TaskEventHandler;
  readonly periodicMetrics: PeriodicMetrics;
  readonly periodic: PeriodicTasks;
  readonly pipeline: EventPipeline;
  /** Called on each task-sent event that names a queue (the daemon re-polls queue depths soon). */
  onTaskSent: ((queue: string) => void) | undefined;
  /** A task-succeeded/failed for a task never seen before (no task-sent/received, not restored, not rebuilt). */
  onUnknownTaskFinished: (() => void) | undefined;
  private ticks = 0;
  /** A worker was first seen, or seen again after being down (remote control asks it for task events). */
  onWorkerSeen: ((node: string) => void) | undefined;
  /** Hosts waiting to be purged, and the round in progress (see drainPurge). */
  private readonly purgeQueue = new Set<string>();
  private purgeRound: { hosts: number; series: number; startedAt: number; busyMs: number } | undefined;
  /** The scan for stale producer hosts in progress: where it resumes on the next tick (see scanStale). */
  private staleScan: { hosts: Iterator<HostSeen>; cutoff: number } | undefined;
  private readonly sliceClock: () => number;
  /** Workers the tick in progress marked down, handled together after it (see workersDown). */
  private downInTick: Map<string, 'offline' | 'timeout'> | undefined;
  /** The last TTL sweep stopped at its time slice: the next tick goes on with it. */
  private sweepUnfinished = false;

  constructor(
    private readonly cfg: CoreConfig,
    private readonly log: Logger,
    now: () => number = Date.now,
    opts: {
      defaultMetrics?: boolean;
      /** The clock (ms) the purge's per-tick time slices are measured with (tests make them deterministic). */
      sliceClock?: () => number;
    } = {},
  ) {
    this.sliceClock = opts.sliceClock ?? (() => performance.now());
    const m = cfg.metrics;
    this.registry = new MetricRegistry({
      staticLabels: m.staticLabels,
      defaultMetrics: opts.defaultMetrics,
      maxSeries: m.maxSeries ?? DEFAULTS.maxSeries,
    });
    this.self = new SelfMetrics(this.registry, { version: VERSION, broker: cfg.brokerMasked, transport: cfg.transport });
    this.stateMetrics = new StateMetrics(this.registry);
    this.registry.onSeriesDropped = (metric) => this.stateMetrics.seriesDropped.labels(metric).inc();
    this.stream = new StreamMetrics(this.registry);
    this.taskMetrics = new TaskMetrics(this.registry, {
      runtimeBuckets: m.runtimeBuckets,
      queueWaitBuckets: m.queueWaitBuckets,
      latencyBuckets: m.latencyBuckets,
      celeryExporterNames: m.celeryExporterNames,
      dropLabels: new Set(m.dropLabels ?? []),
      maxExceptionClasses: m.maxExceptionClasses ?? DEFAULTS.maxExceptionClasses,
    });
    this.workerMetrics = new WorkerMetrics(this.registry);
    this.queueMetrics = new QueueMetrics(this.registry);
    this.brokerMetrics = new BrokerMetrics(this.registry);
    this.backlogMetrics = new BacklogMetrics(this.registry);
    this.inspectMetrics = new InspectMetrics(this.registry);
    this.controlMetrics = new ControlSelfMetrics(this.registry);
    const maxQueues = m.maxQueues ?? DEFAULTS.maxQueues;
    this.queues = new QueueRegistry(cfg.queues ?? [], maxQueues, Date.now, () => this.stateMetrics.rejected.labels('queues').inc());
    this.taskNames = new TaskNamePolicy({ allow: m.taskNameAllow, deny: m.taskNameDeny, max: m.maxTaskNames ?? DEFAULTS.maxTaskNames });
    const labels = new LabelPolicy({
      stripHostnamePrefix: cfg.workers.stripHostnamePrefix,
      maxLength: m.maxLabelLength,
      taskNames: this.taskNames,
    });
    const evictions = { capacity: this.self.evicted.labels('capacity'), ttl: this.self.evicted.labels('ttl') };
    this.tracker = new TaskTracker({
      maxTasks: cfg.metrics.maxTrackedTasks,
      ttlSeconds: cfg.metrics.trackedTaskTtl,
      onEvict: (reason) => evictions[reason].inc(),
    });
    const tracked = this.self.trackedTasks.labels();
    this.self.trackedTasks.collect = () => tracked.set(this.tracker.size);
    const longRunning = cfg.metrics.longRunningTaskThreshold ?? DEFAULT_LONG_RUNNING_TASK_THRESHOLD;
    this.backlog = new BacklogSignals(this.tracker, this.queues, this.backlogMetrics, longRunning, now);
    // One pass fills all three backlog families; the first of them to render triggers it.
    this.backlogMetrics.oldestPendingAge.collect = () => this.backlog.collect();
    const maxWorkers = m.maxWorkers ?? DEFAULTS.maxWorkers;
    this.workers = new WorkerState(
      this.workerMetrics,
      labels,
      {
        workerTimeout: cfg.workers.timeout,
        purgeAfter: cfg.workers.purgeAfter,
        maxWorkers,
        onRejected: () => this.stateMetrics.rejected.labels('workers').inc(),
      },
      {
        purgeHostname: (h) => this.purgeQueue.add(h),
        onWorkerUp: (hostname, node) => {
          log.info({ hostname }, 'worker online');
          this.onWorkerSeen?.(node);
        },
        onWorkerDown: (hostname, reason) => {
          if (this.downInTick !== undefined) return void this.downInTick.set(hostname, reason);
          const stopped = this.backlog.workerDown(hostname);
          log.info({ hostname, reason, runningTasksDropped: stopped }, 'worker down');
        },
      },
    );
    this.periodicMetrics = new PeriodicMetrics(this.registry);
    const periodic = (this.periodic = new PeriodicTasks(this.periodicMetrics, m.periodicTasks ?? [], now()));
    this.tasks = new TaskEventHandler(this.tracker, this.taskMetrics, labels, {
      onQueueSeen: (queue) => {
        this.queues.seen(queue, 'event');
        this.onTaskSent?.(queue);
      },
      onFinished: (name, state, ts) => {
        periodic.finished(name, state, ts);
        if (name === undefined) this.onUnknownTaskFinished?.();
      },
      onRevoked: (name, ev) => periodic.revoked(name, ev),
      onRejected: (name, ev) => periodic.rejected(name, ev),
    });
    this.pipeline = new EventPipeline(this.self, this.tasks, this.workers, new RateLimitedLog(log), now);
    this.exportFillLevels(m.maxTrackedTasks, maxWorkers, maxQueues);
  }

  /** celery_exporter_state_entries{table} and its limits, read when /metrics renders. */
  private exportFillLevels(maxTasks: number, maxWorkers: number, maxQueues: number): void {
    const limits: Record<StateTable, number> = {
      tasks: maxTasks,
      workers: maxWorkers,
      queues: maxQueues,
      task_names: this.taskNames.limit,
      series: this.registry.seriesLimit,
      held_events: MAX_HELD,
    };
    for (const t of STATE_TABLES) {
      this.stateMetrics.limit.labels(t).set(limits[t]);
      this.stateMetrics.rejected.labels(t);
      this.stateMetrics.entries.labels(t);
    }
    this.stateMetrics.entries.collect = () => {
      const e = this.stateMetrics.entries;
      e.labels('tasks').set(this.tracker.size);
      e.labels('workers').set(this.workers.size);
      e.labels('queues').set(this.queues.size);
      e.labels('task_names').set(this.taskNames.size);
      e.labels('series').set(this.registry.totalSeries);
      e.labels('held_events').set(this.tasks.heldCount);
    };
  }

  /** Removes every series carrying this hostname (worker or producer) now; returns how many. */
  purgeHostname(hostname: string): number {
    const removed = this.registry.removeWhere('hostname', hostname);
    this.taskMetrics.forgetHost(hostname);
    this.workers.forget(hostname);
    return removed;
  }

  /**
   * Purges queued hosts for at most PURGE_SLICE_MS, the rest on the next tick: 100,000 stale
   * hosts purged in one loop blocked the process for 899 s (no /healthz, SIGTERM ignored). One
   * log line per round (when the queue is empty and no scan for stale hosts is under way), not
   * one per host.
   */
  private drainPurge(sliceMs = PURGE_SLICE_MS): void {
    if (this.purgeQueue.size === 0) return this.endPurgeRound();
    const start = this.sliceClock();
    const round = this.openPurgeRound();
    let n = 0;
    for (const host of this.purgeQueue) {
      this.purgeQueue.delete(host);
      // A host that came back since it was queued keeps its series.
      if (!this.workers.isUp(host)) {
        round.series += this.purgeHostname(host);
        round.hosts++;
      }
      if (++n % 64 === 0 && this.sliceClock() - start > sliceMs) break;
    }
    round.busyMs += this.sliceClock() - start;
    this.endPurgeRound();
  }

  private openPurgeRound(): NonNullable<Core['purgeRound']> {
    return (this.purgeRound ??= { hosts: 0, series: 0, startedAt: Date.now(), busyMs: 0 });
  }

  /** Logs the round once nothing is left to purge or to look at. */
  private endPurgeRound(): void {
    const round = this.purgeRound;
    if (round === undefined || this.purgeQueue.size > 0 || this.staleScan !== undefined) return;
    this.purgeRound = undefined;
    if (round.hosts === 0) return;
    this.log.info(
      { hosts: round.hosts, series: round.series, seconds: (Date.now() - round.startedAt) / 1000, busyMs: Math.round(round.busyMs) },
      'purged the series of hosts not seen for the purge delay',
    );
  }

  /**
   * Queues the producer hosts not seen for --purge-offline-worker-metrics (and not known as
   * workers: the worker table purges those), for at most SCAN_SLICE_MS; the scan resumes where
   * it stopped on the next tick. A pass judges every host against the time it started (hosts
   * going stale meanwhile are the next pass's), so hosts that went stale together make one round.
   * Returns the milliseconds it took.
   */
  private scanStale(): number {
    const scan = this.staleScan;
    if (scan === undefined) return 0;
    const start = this.sliceClock();
    const { hosts, cutoff } = scan;
    let n = 0;
    for (;;) {
      const r = hosts.next();
      if (r.done === true) {
        this.staleScan = undefined;
        break;
      }
      const h = r.value;
      if (h.lastSeen < cutoff && !this.workers.isKnown(h.hostname)) this.purgeQueue.add(h.hostname);
      if (++n % 256 === 0 && this.sliceClock() - start > SCAN_SLICE_MS) break;
    }
    const ms = this.sliceClock() - start;
    if (this.purgeRound !== undefined) this.purgeRound.busyMs += ms;
    return ms;
  }

  /**
   * Workers that timed out in the same tick: their running tasks are dropped in one pass over the
   * in-flight map (one pass each took 5 s for 5,000 workers and 100,000 tracked tasks).
   */
  private workersDown(down: ReadonlyMap<string, 'offline' | 'timeout'>): void {
    const stopped = this.backlog.workersDown(new Set(down.keys()));
    if (down.size <= WORKERS_DOWN_LINES) {
      for (const [hostname, reason] of down) {
        this.log.info({ hostname, reason, runningTasksDropped: stopped.get(hostname) ?? 0 }, 'worker down');
      }
      return;
    }
    // 5,000 lines took ~40 ms of the same tick: one line for them all, naming a few.
    let dropped = 0;
    for (const n of stopped.values()) dropped += n;
    const reasons: Record<string, number> = {};
    for (const r of down.values()) reasons[r] = (reasons[r] ?? 0) + 1;
    const hostnames = [...take(down.keys(), WORKERS_DOWN_LINES)];
    this.log.info({ workers: down.size, reasons, runningTasksDropped: dropped, hostnames }, 'workers down');
  }

  /**
   * Time-driven state: worker liveness every call, TTL sweep and the start of a scan for stale
   * producer hosts every 10th; a scan in progress and queued purges go on in slices. Call once a second.
   */
  tick(nowMs: number): void {
    const heldStart = this.sliceClock();
    this.tasks.flushHeld(nowMs, () => this.sliceClock() - heldStart > HELD_SLICE_MS);
    const down = (this.downInTick = new Map());
    try {
      this.workers.tick(nowMs);
    } finally {
      this.downInTick = undefined;
    }
    if (down.size > 0) this.workersDown(down);
    const tenth = ++this.ticks % 10 === 0;
    if (tenth || this.sweepUnfinished) {
      const sweepStart = this.sliceClock();
      this.tracker.sweep(nowMs, () => this.sliceClock() - sweepStart > SWEEP_SLICE_MS);
      this.sweepUnfinished = this.tracker.hasExpired(nowMs);
    }
    if (tenth) {
      // A scan still under way (more hosts than one slice covers) is left to finish, and the
      // hosts it queued to be purged, before the next one starts.
      const idle = this.staleScan === undefined && this.purgeQueue.size === 0;
      if (this.cfg.workers.purgeAfter > 0 && idle && this.taskMetrics.hostCount > 0) {
        this.staleScan = { hosts: this.taskMetrics.hostClocks(), cutoff: nowMs - this.cfg.workers.purgeAfter * 1000 };
      }
    }
    const scanMs = this.scanStale();
    this.drainPurge(Math.max(MIN_DRAIN_MS, PURGE_SLICE_MS - scanMs));
  }
}
