/**
 * A background collector that reads the broker (queue depths, remote-control inspect, broker
 * health). The one-method contract, node_exporter style: poll() does one round and writes its
 * own metric families; the scheduler times it, bounds it and counts failures. /metrics reads
 * what the last round left; for an on-demand poller (minIntervalMs) it may first wait, briefly
 * and boundedly, for a fresh round (see scheduler.ts).
 */
export interface Poller {
  /** Label value of celery_exporter_poll_*{poller}; short and stable, e.g. "redis_queues". */
  readonly name: string;
  /** One round. Must honour `signal` (aborted at the timeout) and throw on failure. */
  poll(signal: AbortSignal): Promise<void>;
  /**
   * Called when a round failed or timed out: drop series that would otherwise show stale or
   * wrong values (the exporter exports nothing rather than wrong zeros).
   */
  onFailure?(err: unknown): void;
  close?(): Promise<void>;
}

export interface PollerSchedule {
  poller: Poller;
  intervalMs: number;
  timeoutMs: number;
  /**
   * Set for pollers whose values must be fresh at scrape time (queue depths): such a poller may
   * also be run on demand (a scrape, a task-sent event), but never sooner than this after the
   * start of its previous round.
   */
  minIntervalMs?: number;
}
