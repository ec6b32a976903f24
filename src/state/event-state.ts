import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import type { ExporterMetrics } from '../metrics/exporter-metrics.js';
import { BacklogSignals } from './backlog.js';
import { exportFillLevels } from './fill-levels.js';
import { HostPurge } from './host-purge.js';
import { LabelPolicy } from './labels.js';
import { PeriodicTasks } from './periodic.js';
import { QueueRegistry } from './queue-registry.js';
import { TaskEventHandler } from './task-events.js';
import { TaskNamePolicy } from './task-names.js';
import { TaskTracker } from './task-tracker.js';
import { WorkerState } from './worker-state.js';

/**
 * Longest a tick spends on held events whose window ran out, and on forgetting tasks past their
 * TTL; the rest waits for the next tick. At the caps (10,000 held tasks, 100,000 tracked ones
 * expiring together) these took ~65 and ~35 ms in one tick.
 */
const HELD_SLICE_MS = 10;
const SWEEP_SLICE_MS = 10;

/** Workers down in one tick logged one line each; more make one summary line. */
const WORKERS_DOWN_LINES = 10;

/** What the event state is built from. */
export type EventStateConfig = Pick<Config, 'metrics' | 'workers' | 'queues'>;

/** The metric families the event state writes to, reads at scrape time, or purges. */
export type EventStateMetrics = Pick<ExporterMetrics, 'registry' | 'self' | 'stateTables' | 'tasks' | 'workers' | 'backlog' | 'periodic'>;

export interface EventStateOptions {
  /** Wall clock (ms) of the task and worker bookkeeping. */
  now?: () => number;
  /** The clock (ms) the per-tick time slices are measured with (tests make them deterministic). */
  sliceClock?: () => number;
}

function* take<T>(it: Iterable<T>, n: number): IterableIterator<T> {
  if (n <= 0) return;
  for (const x of it) {
    yield x;
    if (--n === 0) return;
  }
}

/**
 * What the event stream builds up, without any I/O: the in-flight tasks, the worker table, the
 * task event rules, the queues and periodic tasks seen, the backlog signals; and the time-driven
 * part (tick): held events, worker liveness, the TTL sweep and the purge of offline hosts.
 */
export class EventState {
  readonly taskNames: TaskNamePolicy;
  readonly tracker: TaskTracker;
  readonly workers: WorkerState;
  readonly tasks: TaskEventHandler;
  readonly queues: QueueRegistry;
  readonly periodic: PeriodicTasks;
  readonly backlog: BacklogSignals;
  private readonly purge: HostPurge;
  private readonly sliceClock: () => number;
  private ticks = 0;
  /** Workers the tick in progress marked down, handled together after it (see workersDown). */
  private downInTick: Map<string, 'offline' | 'timeout'> | undefined;
  /** The last TTL sweep stopped at its time slice: the next tick goes on with it. */
  private sweepUnfinished = false;
  private taskSentListener: ((queue: string) => void) | undefined;
  private workerSeenListener: ((node: string) => void) | undefined;
  private unknownFinishedListener: (() => void) | undefined;

  constructor(
    private readonly cfg: EventStateConfig,
    private readonly metrics: EventStateMetrics,
    private readonly log: Logger,
    opts: EventStateOptions = {},
  ) {
    const now = opts.now ?? Date.now;
    const sliceClock = (this.sliceClock = opts.sliceClock ?? (() => performance.now()));
    const m = cfg.metrics;
    const rejected = metrics.stateTables.rejected;
    this.queues = new QueueRegistry(cfg.queues.names, m.maxQueues, Date.now, () => rejected.labels('queues').inc());
    this.taskNames = new TaskNamePolicy({ allow: m.taskNameAllow, deny: m.taskNameDeny, max: m.maxTaskNames });
    const labels = new LabelPolicy({ stripHostnamePrefix: cfg.workers.stripHostnamePrefix, maxLength: m.maxLabelLength, taskNames: this.taskNames });
    const evicted = metrics.self.evicted;
    const evictions = { capacity: evicted.labels('capacity'), ttl: evicted.labels('ttl') };
    this.tracker = new TaskTracker({ maxTasks: m.maxTrackedTasks, ttlSeconds: m.trackedTaskTtl, onEvict: (reason) => evictions[reason].inc() });
    this.backlog = new BacklogSignals(this.tracker, this.queues, metrics.backlog, m.longRunningTaskThreshold, now);
    this.purge = new HostPurge(
      { isUp: (h) => this.workers.isUp(h), isKnown: (h) => this.workers.isKnown(h), purgeHostname: (h) => this.purgeHostname(h) },
      log,
      sliceClock,
    );
    this.workers = new WorkerState(
      metrics.workers,
      labels,
      { workerTimeout: cfg.workers.timeout, purgeAfter: cfg.workers.purgeAfter, maxWorkers: m.maxWorkers, onRejected: () => rejected.labels('workers').inc() },
      {
        purgeHostname: (h) => this.purge.add(h),
        onWorkerUp: (hostname, node) => {
          log.info({ hostname }, 'worker online');
          this.workerSeenListener?.(node);
        },
        onWorkerDown: (hostname, reason) => {
          if (this.downInTick !== undefined) return void this.downInTick.set(hostname, reason);
          const stopped = this.backlog.workerDown(hostname);
          log.info({ hostname, reason, runningTasksDropped: stopped }, 'worker down');
        },
      },
    );
    const periodic = (this.periodic = new PeriodicTasks(metrics.periodic, m.periodicTasks, now()));
    this.tasks = new TaskEventHandler(this.tracker, metrics.tasks, labels, {
      onQueueSeen: (queue) => {
        this.queues.seen(queue, 'event');
        this.taskSentListener?.(queue);
      },
      onFinished: (name, state, ts) => {
        periodic.finished(name, state, ts);
        if (name === undefined) this.unknownFinishedListener?.();
      },
      onRevoked: (name, ev) => periodic.revoked(name, ev),
      onRejected: (name, ev) => periodic.rejected(name, ev),
    });
    this.addScrapeSteps();
  }

  /**
   * The gauges read from this state at scrape time. The fill levels come before the backlog:
   * celery_exporter_state_entries{table="series"} counts the series before the backlog pass
   * adds or removes its own (as it did when each family computed its gauges as it rendered).
   */
  private addScrapeSteps(): void {
    const { registry, self } = this.metrics;
    const tracked = self.trackedTasks.labels();
    registry.beforeRender(() => tracked.set(this.tracker.size));
    exportFillLevels(this.metrics.stateTables, registry, this, this.cfg.metrics);
    // One pass fills all three backlog families.
    registry.beforeRender(() => this.backlog.collect());
  }

  /** Calls `listener` on each task-sent event that names a queue (the daemon re-polls queue depths soon). One listener. */
  onTaskSent(listener: (queue: string) => void): void {
    this.taskSentListener = listener;
  }

  /** Calls `listener` when a worker is first seen, or seen again after being down (remote control asks it for task events). One listener. */
  onWorkerSeen(listener: (node: string) => void): void {
    this.workerSeenListener = listener;
  }

  /** Calls `listener` on a task-succeeded/failed for a task never seen before (no task-sent/received, not restored, not rebuilt); undefined stops. */
  onUnknownTaskFinished(listener: (() => void) | undefined): void {
    this.unknownFinishedListener = listener;
  }

  /** Removes every series carrying this hostname (worker or producer) now; returns how many. */
  purgeHostname(hostname: string): number {
    const removed = this.metrics.registry.removeWhere('hostname', hostname);
    this.metrics.tasks.forgetHost(hostname);
    this.workers.forget(hostname);
    return removed;
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
    // A scan still under way (more hosts than one slice covers) is left to finish, and the
    // hosts it queued to be purged, before the next one starts.
    const purgeAfter = this.cfg.workers.purgeAfter;
    if (tenth && purgeAfter > 0 && this.purge.idle && this.metrics.tasks.hostCount > 0) {
      this.purge.startScan(this.metrics.tasks.hostClocks(), nowMs - purgeAfter * 1000);
    }
    this.purge.tick();
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
}
