/**
 * A background collector, node_exporter style: it reads something outside the event stream
 * (queue depths and broker health, the RabbitMQ management API, remote-control inspect, the
 * enable_events broadcast). collect() does one round and writes its own metric families; the
 * scheduler (scheduler.ts) times it, bounds it and counts failures. /metrics reads what the last
 * round left; for an on-demand collector (minIntervalMs) it may first wait, briefly and
 * boundedly, for a fresh round. Which collectors run, and how each is built, is the table in
 * src/app/collectors.ts.
 */
export interface Collector {
  /** Label value of celery_exporter_poll_*{poller}; short and stable, e.g. "redis_queues". */
  readonly name: string;
  /** One round. Must honour `signal` (aborted at the timeout) and throw on failure. */
  collect(signal: AbortSignal): Promise<void>;
  /**
   * Called when a round failed or timed out: drop series that would otherwise show stale or
   * wrong values (the exporter exports nothing rather than wrong zeros).
   */
  onFailure?(err: unknown): void;
  close?(): Promise<void>;
}

/** When a collector runs. */
export interface CollectorSchedule {
  collector: Collector;
  intervalMs: number;
  timeoutMs: number;
  /**
   * Set for collectors whose values must be fresh at scrape time (queue depths): such a
   * collector may also be run on demand (a scrape, a task-sent event), but never sooner than
   * this after the start of its previous round.
   */
  minIntervalMs?: number;
}
