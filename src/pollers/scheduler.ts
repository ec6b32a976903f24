import { scrub } from '../config/secrets.js';
import type { Logger } from '../log.js';
import type { SelfMetrics } from '../metrics/self-metrics.js';
import type { CollectorSchedule } from './collector.js';

/**
 * After a task-sent event, how long an on-demand collector waits before its round: the task message
 * is already in the queue (Celery publishes it before its task-sent), and a burst of tasks then
 * costs one round, not one per task.
 */
export const NUDGE_DELAY_MS = 200;

interface Slot {
  /** The round running now, if any. */
  current: Promise<void> | undefined;
  /** performance.now() at the start of the last round (any trigger). */
  lastStart: number;
  periodic: NodeJS.Timeout | undefined;
  nudge: NodeJS.Timeout | undefined;
}

/**
 * Runs each collector on its own interval, never two rounds of one collector at once. Logs by state
 * change: one warning when a collector starts failing, one line when it succeeds again; the rounds
 * failing in between are counted (celery_exporter_poll_errors_total) and logged at debug only.
 *
 * On-demand collectors (minIntervalMs set: the queue collectors) also run when a scrape finds their
 * last round older than minIntervalMs (refresh), and shortly after a task-sent event (nudge);
 * a round started that way restarts the interval. Every trigger shares one rule: no round
 * starts less than minIntervalMs after the previous one started, so the broker sees at most one
 * round per minIntervalMs whatever the number of Prometheus servers (or events) asking.
 */
export class PollScheduler {
  private readonly slots = new Map<CollectorSchedule, Slot>();
  private readonly running = new Set<Promise<void>>();
  private readonly controllers = new Set<AbortController>();
  /** Collectors failing now: when they started to, rounds failed since, and whether that was logged. */
  private readonly failing = new Map<string, { since: number; rounds: number; warned: boolean; err: string }>();
  private readonly graceTimers = new Set<NodeJS.Timeout>();
  private stopped = false;

  /**
   * `brokerDown`: the event stream's connection is down. A broker outage is then reported by that
   * one line (and its recovery line), not once more by every collector: a collector's failure is logged
   * only when it lasts `graceMs` while the broker is up (a problem of its own).
   * `brokerUnreachable` (default: `brokerDown`): the connection is down right now; scrapes then
   * wait for no round. Without brokerDown's settling time after a (re)connect, which would skip
   * the refresh for the first seconds after every start.
   */
  constructor(
    private readonly schedules: CollectorSchedule[],
    private readonly self: SelfMetrics,
    private readonly log: Logger,
    private readonly opts: { brokerDown?: () => boolean; brokerUnreachable?: () => boolean; graceMs?: number } = {},
  ) {
    // Error counters exist at 0 from the start, so rate() and absent() alerts work before a failure.
    for (const s of schedules) {
      self.pollErrors.labels(s.collector.name);
      if (s.minIntervalMs === undefined) continue;
      self.refreshTimeouts.labels(s.collector.name);
      for (const t of ['scrape', 'task_sent']) self.pollOnDemand.labels(s.collector.name, t);
    }
  }

  start(): void {
    // First round at once, so metrics exist soon after start.
    for (const s of this.schedules) setImmediate(() => this.launch(s, 'periodic'));
  }

  /**
   * Before a scrape: for each on-demand collector whose last round started minIntervalMs ago or
   * more, run a round (or join the one running) and wait for it, at most `waitMs`; past that the
   * scrape serves the previous values and the timeout is counted. While the broker is down the
   * scrape waits for nothing: a round could only fail, and each scrape would take the full wait.
   */
  async refresh(waitMs: number): Promise<void> {
    if ((this.opts.brokerUnreachable ?? this.opts.brokerDown)?.() === true) return;
    const waits: Promise<void>[] = [];
    for (const s of this.schedules) {
      if (s.minIntervalMs === undefined) continue;
      const round = this.launch(s, 'scrape');
      if (round === undefined) continue;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), waitMs)));
      waits.push(
        Promise.race([round.then(() => 'done' as const), timeout]).then((r) => {
          clearTimeout(timer);
          if (r === 'timeout') this.self.refreshTimeouts.labels(s.collector.name).inc();
        }),
      );
    }
    await Promise.all(waits);
  }

  /** A task was just published: run the on-demand collectors soon (once per minIntervalMs at most). */
  nudge(): void {
    const at = performance.now();
    for (const s of this.schedules) {
      if (s.minIntervalMs !== undefined) this.scheduleNudge(s, this.slot(s), at, NUDGE_DELAY_MS);
    }
  }

  /** A round for a task sent at `at`, unless one starts after it anyway. */
  private scheduleNudge(s: CollectorSchedule, slot: Slot, at: number, minDelay: number): void {
    if (slot.nudge !== undefined || this.stopped) return;
    // +1 ms: a timer may fire a fraction of a millisecond early by performance.now().
    const earliest = slot.lastStart + s.minIntervalMs! - performance.now() + 1;
    slot.nudge = setTimeout(() => {
      slot.nudge = undefined;
      if (slot.lastStart >= at) return; // a round started since the task was sent: it covers it
      if (slot.current !== undefined || this.launch(s, 'task_sent') === undefined) {
        // Still too early, or a round that began before the task is running: try again after it.
        this.scheduleNudge(s, slot, at, 50);
      }
    }, Math.max(minDelay, earliest));
    slot.nudge.unref();
  }

  /**
   * Starts a round unless one is running (then returns it) or, for an on-demand trigger, the
   * last one started less than minIntervalMs ago (then returns undefined).
   */
  private launch(s: CollectorSchedule, trigger: 'periodic' | 'scrape' | 'task_sent'): Promise<void> | undefined {
    if (this.stopped) return undefined;
    const slot = this.slot(s);
    if (slot.current !== undefined) {
      // A round overran the interval: this periodic round is skipped, the next one kept.
      if (trigger === 'periodic') this.schedulePeriodic(s, slot);
      return slot.current;
    }
    const now = performance.now();
    if (trigger !== 'periodic' && now - slot.lastStart < (s.minIntervalMs ?? Infinity)) return undefined;
    if (trigger !== 'periodic') this.self.pollOnDemand.labels(s.collector.name, trigger).inc();
    slot.lastStart = now;
    // The next periodic round comes a full interval after this one, whatever triggered it.
    this.schedulePeriodic(s, slot);
    const wall = Date.now();
    const p = this.runOnce(s, wall).finally(() => {
      slot.current = undefined;
      this.running.delete(p);
    });
    slot.current = p;
    this.running.add(p);
    return p;
  }

  private schedulePeriodic(s: CollectorSchedule, slot: Slot): void {
    clearTimeout(slot.periodic);
    slot.periodic = setTimeout(() => this.launch(s, 'periodic'), s.intervalMs);
    slot.periodic.unref();
  }

  private slot(s: CollectorSchedule): Slot {
    let slot = this.slots.get(s);
    if (slot === undefined) this.slots.set(s, (slot = { current: undefined, lastStart: -Infinity, periodic: undefined, nudge: undefined }));
    return slot;
  }

  /** One round of one collector, with its timeout and bookkeeping (also used by tests). */
  async runOnce(s: CollectorSchedule, startedAtMs = Date.now()): Promise<void> {
    const ac = new AbortController();
    this.controllers.add(ac);
    const timer = setTimeout(() => ac.abort(new Error(`timed out after ${s.timeoutMs} ms`)), s.timeoutMs);
    const started = performance.now();
    try {
      await Promise.race([
        s.collector.collect(ac.signal),
        new Promise<never>((_, reject) => ac.signal.addEventListener('abort', () => reject(ac.signal.reason as Error), { once: true })),
      ]);
      this.self.pollDuration.labels(s.collector.name).set((performance.now() - started) / 1000);
      this.self.pollSuccess.labels(s.collector.name).set(startedAtMs / 1000);
      const was = this.failing.get(s.collector.name);
      if (was !== undefined) {
        this.failing.delete(s.collector.name);
        const seconds = Math.round((Date.now() - was.since) / 1000);
        const detail = { poller: s.collector.name, failedRounds: was.rounds, seconds };
        if (was.warned) this.log.info(detail, 'poll succeeded again; its series are back');
        else this.log.debug(detail, 'poll succeeded again');
      }
    } catch (err) {
      this.self.pollDuration.labels(s.collector.name).set((performance.now() - started) / 1000);
      this.self.pollErrors.labels(s.collector.name).inc();
      if (!this.stopped) this.failed(s.collector.name, scrub(errorText(err)));
      try {
        s.collector.onFailure?.(err);
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
    for (const slot of this.slots.values()) {
      clearTimeout(slot.periodic);
      clearTimeout(slot.nudge);
    }
    for (const ac of this.controllers) ac.abort(new Error('stopping'));
    await Promise.allSettled([...this.running]);
    await Promise.allSettled(this.schedules.map((s) => s.collector.close?.()));
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
