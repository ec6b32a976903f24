import type { Logger } from '../log.js';
import type { HostSeen } from '../metrics/task-metrics.js';

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

/** What the purge reads and removes: the worker table and every series of a hostname. */
export interface PurgeTarget {
  /** True while the host is a worker that is up (it came back: it keeps its series). */
  isUp(hostname: string): boolean;
  /** True for a host in the worker table (the worker table purges those itself). */
  isKnown(hostname: string): boolean;
  /** Removes every series carrying this hostname; returns how many. */
  purgeHostname(hostname: string): number;
}

/**
 * The purge of offline hosts' series, in time slices: hosts queued by the worker table, and
 * producer hosts found stale by a scan of the task series' hosts. Both go on over several
 * ticks, so neither blocks the event loop for long.
 */
export class HostPurge {
  /** Hosts waiting to be purged, and the round in progress (see drain). */
  private readonly queue = new Set<string>();
  private round: { hosts: number; series: number; startedAt: number; busyMs: number } | undefined;
  /** The scan for stale producer hosts in progress: where it resumes on the next tick (see scan). */
  private staleScan: { hosts: Iterator<HostSeen>; cutoff: number } | undefined;

  constructor(
    private readonly target: PurgeTarget,
    private readonly log: Logger,
    /** The clock (ms) the per-tick time slices are measured with (tests make them deterministic). */
    private readonly sliceClock: () => number,
  ) {}

  /** Queues a host to be purged on the next tick (unless it is up again by then). */
  add(hostname: string): void {
    this.queue.add(hostname);
  }

  /** True when no scan is under way and nothing waits to be purged. */
  get idle(): boolean {
    return this.staleScan === undefined && this.queue.size === 0;
  }

  /**
   * Starts a scan of these hosts for the ones last seen before `cutoff` (ms): a pass judges every
   * host against the time it started (hosts going stale meanwhile are the next pass's), so hosts
   * that went stale together make one round.
   */
  startScan(hosts: Iterator<HostSeen>, cutoff: number): void {
    this.staleScan = { hosts, cutoff };
  }

  /** One tick's share: the scan in progress, then the queued purges, within PURGE_SLICE_MS. */
  tick(): void {
    const scanMs = this.scan();
    this.drain(Math.max(MIN_DRAIN_MS, PURGE_SLICE_MS - scanMs));
  }

  /**
   * Purges queued hosts for at most sliceMs, the rest on the next tick: 100,000 stale hosts
   * purged in one loop blocked the process for 899 s (no /healthz, SIGTERM ignored). One log
   * line per round (when the queue is empty and no scan for stale hosts is under way), not one
   * per host.
   */
  private drain(sliceMs: number): void {
    if (this.queue.size === 0) return this.endRound();
    const start = this.sliceClock();
    const round = (this.round ??= { hosts: 0, series: 0, startedAt: Date.now(), busyMs: 0 });
    let n = 0;
    for (const host of this.queue) {
      this.queue.delete(host);
      // A host that came back since it was queued keeps its series.
      if (!this.target.isUp(host)) {
        round.series += this.target.purgeHostname(host);
        round.hosts++;
      }
      if (++n % 64 === 0 && this.sliceClock() - start > sliceMs) break;
    }
    round.busyMs += this.sliceClock() - start;
    this.endRound();
  }

  /** Logs the round once nothing is left to purge or to look at. */
  private endRound(): void {
    const round = this.round;
    if (round === undefined || this.queue.size > 0 || this.staleScan !== undefined) return;
    this.round = undefined;
    if (round.hosts === 0) return;
    this.log.info(
      { hosts: round.hosts, series: round.series, seconds: (Date.now() - round.startedAt) / 1000, busyMs: Math.round(round.busyMs) },
      'purged the series of hosts not seen for the purge delay',
    );
  }

  /**
   * Queues the scanned hosts not seen since the cutoff (and not known as workers), for at most
   * SCAN_SLICE_MS; the scan resumes where it stopped on the next tick. Returns the milliseconds
   * it took.
   */
  private scan(): number {
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
      if (h.lastSeen < cutoff && !this.target.isKnown(h.hostname)) this.queue.add(h.hostname);
      if (++n % 256 === 0 && this.sliceClock() - start > SCAN_SLICE_MS) break;
    }
    const ms = this.sliceClock() - start;
    if (this.round !== undefined) this.round.busyMs += ms;
    return ms;
  }
}
