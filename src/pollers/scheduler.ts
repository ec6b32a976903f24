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
  /** Pollers failing now: when they started to, and rounds failed since. */
  private readonly failing = new Map<string, { since: number; rounds: number }>();
  private stopped = false;

  constructor(
    private readonly schedules: PollerSchedule[],
    private readonly self: SelfMetrics,
    private readonly log: Logger,
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
        this.log.info({ poller: s.poller.name, failedRounds: was.rounds, seconds }, 'poll succeeded again; its series are back');
      }
    } catch (err) {
      this.self.pollDuration.labels(s.poller.name).set((performance.now() - started) / 1000);
      this.self.pollErrors.labels(s.poller.name).inc();
      if (!this.stopped) {
        const was = this.failing.get(s.poller.name);
        const detail = { poller: s.poller.name, err: scrub(errorText(err)) };
        if (was === undefined) {
          this.failing.set(s.poller.name, { since: Date.now(), rounds: 1 });
          this.log.warn(detail, 'poll failed; its series are withheld until it succeeds (further failures are logged at debug level)');
        } else {
          was.rounds++;
          this.log.debug(detail, 'poll failed again');
        }
      }
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

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const ac of this.controllers) ac.abort(new Error('stopping'));
    await Promise.allSettled([...this.running]);
    await Promise.allSettled(this.schedules.map((s) => s.poller.close?.()));
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
