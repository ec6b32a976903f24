import { scrub } from '../config/secrets.js';
import type { Logger } from '../log.js';
import type { SelfMetrics } from '../metrics/self-metrics.js';
import type { PollerSchedule } from './poller.js';

/**
 * Runs each poller on its own interval, never two rounds of one poller at once. Logs by state
 * change: one warning when a poller starts failing, one line when it succeeds again; the rounds
 * failing in between are counted (celery_exporter_poll_errors_total) and logged at debug only.
 */
export class PollScheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly controllers = new Set<AbortController>();
  /** Pollers failing now: when they started to, rounds failed since, and whether that was logged. */
  private readonly failing = new Map<string, { since: number; rounds: number; warned: boolean; err: string }>();
  private readonly graceTimers = new Set<NodeJS.Timeout>();
  private stopped = false;

  /**
   * `brokerDown`: the event stream's connection is down. A broker outage is then reported by that
   * one line (and its recovery line), not once more by every poller: a poller's failure is logged
   * only when it lasts `graceMs` while the broker is up (a problem of its own).
   */
  constructor(
    private readonly schedules: PollerSchedule[],
    private readonly self: SelfMetrics,
    private readonly log: Logger,
    private readonly opts: { brokerDown?: () => boolean; graceMs?: number } = {},
  ) {
    // Error counters exist at 0 from the start, so rate() and absent() alerts work before a failure.
    for (const s of schedules) self.pollErrors.labels(s.poller.name);
  }

  start(): void {
    for (const s of this.schedules) {
      let busy = false;
      const run = () => {
        if (busy || this.stopped) return;
        busy = true;
        const p = this.runOnce(s).finally(() => {
          busy = false;
          this.running.delete(p);
        });
        this.running.add(p);
      };
      // First round at once, so metrics exist soon after start.
      setImmediate(run);
      const t = setInterval(run, s.intervalMs);
      t.unref();
      this.timers.push(t);
    }
  }

  /** One round of one poller, with its timeout and bookkeeping (also used by tests). */
  async runOnce(s: PollerSchedule): Promise<void> {
    const ac = new AbortController();
    this.controllers.add(ac);
    const timer = setTimeout(() => ac.abort(new Error(`timed out after ${s.timeoutMs} ms`)), s.timeoutMs);
    const started = performance.now();
    try {
      await Promise.race([
        s.poller.poll(ac.signal),
        new Promise<never>((_, reject) => ac.signal.addEventListener('abort', () => reject(ac.signal.reason as Error), { once: true })),
      ]);
      this.self.pollDuration.labels(s.poller.name).set((performance.now() - started) / 1000);
      const was = this.failing.get(s.poller.name);
      if (was !== undefined) {
        this.failing.delete(s.poller.name);
        const seconds = Math.round((Date.now() - was.since) / 1000);
        const detail = { poller: s.poller.name, failedRounds: was.rounds, seconds };
        if (was.warned) this.log.info(detail, 'poll succeeded again; its series are back');
        else this.log.debug(detail, 'poll succeeded again');
      }
    } catch (err) {
      this.self.pollDuration.labels(s.poller.name).set((performance.now() - started) / 1000);
      this.self.pollErrors.labels(s.poller.name).inc();
      if (!this.stopped) this.failed(s.poller.name, scrub(errorText(err)));
      try {
        s.poller.onFailure?.(err);
      } catch {
        // a failing cleanup must not break the scheduler
      }
    } finally {
      clearTimeout(timer);
      this.controllers.delete(ac);
    }
  }

  private failed(name: string, err: string): void {
    const brokerDown = this.opts.brokerDown;
    const was = this.failing.get(name);
    if (was === undefined) {
      const entry = { since: Date.now(), rounds: 1, warned: false, err };
      this.failing.set(name, entry);
      if (brokerDown === undefined) return this.warn(name, entry);
      this.log.debug({ poller: name, err }, 'poll failed');
      const t = setTimeout(() => {
        this.graceTimers.delete(t);
        if (!this.stopped && this.failing.get(name) === entry && !entry.warned && !brokerDown()) this.warn(name, entry);
      }, this.opts.graceMs ?? 2000);
      t.unref();
      this.graceTimers.add(t);
      return;
    }
    was.rounds++;
    was.err = err;
    if (!was.warned && brokerDown !== undefined && !brokerDown() && Date.now() - was.since >= (this.opts.graceMs ?? 2000)) return this.warn(name, was);
    this.log.debug({ poller: name, err }, 'poll failed again');
  }

  private warn(name: string, entry: { warned: boolean; err: string }): void {
    entry.warned = true;
    this.log.warn({ poller: name, err: entry.err }, 'poll failed; its series are withheld until it succeeds (further failures are logged at debug level)');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.graceTimers) clearTimeout(t);
    for (const t of this.timers) clearInterval(t);
    for (const ac of this.controllers) ac.abort(new Error('stopping'));
    await Promise.allSettled([...this.running]);
    await Promise.allSettled(this.schedules.map((s) => s.poller.close?.()));
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
