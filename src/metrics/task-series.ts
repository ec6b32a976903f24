import type { CounterChild } from './counter.js';
import type { HistogramChild } from './histogram.js';

/**
 * The cached series of the task families (src/metrics/task-metrics.ts): one event updates its
 * counters and histograms through these holders, without building label objects.
 */

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
