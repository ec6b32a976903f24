import type { Logger } from '../log.js';
import type { Counter } from '../metrics/counter.js';
import type { RemoteControl } from './client.js';
import { isErrorReply } from './worker-replies.js';

/** The reply of a worker whose task events were off until this request (celery/worker/control.py). */
export const NEWLY_ENABLED = 'task events enabled';

export interface OnSightOptions {
  replyTimeoutMs: number;
  /** Minimum gap between two requests (one request carries every worker seen meanwhile). */
  minGapMs?: number;
  /** A worker that did not answer is asked again this often, up to `attempts` times. */
  retryMs?: number;
  attempts?: number;
  /** A worker is not asked again within this long (a worker flapping up and down). */
  cooldownMs?: number;
  now?: () => number;
}

/**
 * Sends `enable_events` to a worker as soon as it is first seen (worker-online, or a heartbeat
 * from an unknown or previously down worker), so a worker started without -E is not blind until
 * the next periodic broadcast (60 s by default). No heartbeat field says whether task events are
 * on (a heartbeat carries freq, active, processed, loadavg and sw_*), so it is always sent.
 *
 * Celery sends worker-online before its remote-control consumer is listening, so the first
 * request can be lost: a worker that did not answer is asked again every second, a few times.
 * Workers seen together (a rollout) share one request (destination = all of them), and requests
 * are at least `minGapMs` apart, so a rollout of hundreds costs a few messages.
 */
export class EnableEventsOnSight {
  private readonly pending = new Map<string, number>();
  private readonly askedAt = new Map<string, number>();
  private readonly logged = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private lastRun = Number.NEGATIVE_INFINITY;
  private closed = false;
  private readonly ac = new AbortController();
  private readonly o: Required<OnSightOptions>;

  constructor(
    private readonly rc: RemoteControl,
    private readonly outcomes: Counter,
    private readonly log: Logger,
    opts: OnSightOptions,
  ) {
    this.o = { minGapMs: 1000, retryMs: 1000, attempts: 5, cooldownMs: 10_000, now: Date.now, ...opts };
  }

  /** `node` is the worker's node name as it sends it (the request's destination). */
  workerSeen(node: string): void {
    if (this.closed) return;
    const now = this.o.now();
    const last = this.askedAt.get(node);
    if (last !== undefined && now - last < this.o.cooldownMs) return;
    this.askedAt.set(node, now);
    if (this.askedAt.size > 10_000) this.askedAt.delete(this.askedAt.keys().next().value as string);
    this.pending.set(node, this.o.attempts);
    this.schedule(0);
  }

  close(): void {
    this.closed = true;
    this.ac.abort(new Error('stopping'));
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private schedule(afterMs: number): void {
    if (this.timer !== undefined || this.busy || this.closed || this.pending.size === 0) return;
    const wait = Math.max(afterMs, this.lastRun + this.o.minGapMs - this.o.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, wait);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    const nodes = [...this.pending.keys()];
    this.busy = true;
    this.lastRun = this.o.now();
    let answered = new Map<string, unknown>();
    try {
      const r = await this.rc.call('enable_events', { destination: nodes, timeoutMs: this.o.replyTimeoutMs, signal: this.ac.signal });
      answered = new Map(r.replies.map((x) => [x.hostname, x.value]));
    } catch (err) {
      if (this.closed) return;
      this.log.debug({ err: String(err), workers: nodes.length }, 'enable_events to newly seen workers failed; will retry');
    } finally {
      this.busy = false;
    }
    for (const node of nodes) {
      const left = this.pending.get(node);
      if (left === undefined) continue;
      if (!answered.has(node)) {
        if (left > 1) this.pending.set(node, left - 1);
        else {
          this.pending.delete(node);
          this.outcomes.labels('no_reply').inc();
          this.once(node, 'no_reply', 'a newly seen worker did not answer enable_events; the periodic broadcast will ask it again');
        }
        continue;
      }
      this.pending.delete(node);
      const value = answered.get(node);
      const outcome = isErrorReply(value) ? 'error' : (value as Record<string, unknown> | null)?.['ok'] === NEWLY_ENABLED ? 'enabled' : 'already_enabled';
      this.outcomes.labels(outcome).inc();
      this.once(node, outcome, outcome === 'enabled' ? 'task events were off on a newly seen worker; enable_events switched them on' : 'sent enable_events to a newly seen worker');
    }
    this.schedule(this.o.retryMs);
  }

  /** One line per worker for the life of the process (a worker restarting often is not news). */
  private once(node: string, outcome: string, msg: string): void {
    if (this.logged.has(node)) return;
    if (this.logged.size < 10_000) this.logged.add(node);
    if (outcome === 'error' || outcome === 'no_reply') this.log.warn({ hostname: node, outcome }, msg);
    else this.log.info({ hostname: node, outcome }, msg);
  }
}
