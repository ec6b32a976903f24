import { parseBody } from './decoder/body.js';
import { Invalid } from './decoder/invalid.js';
import {
  TASK_EVENT_TYPES,
  WORKER_EVENT_TYPES,
  type EventType,
  type InvalidReason,
  type RawEvent,
  type TaskEventType,
  type WorkerEventType,
} from './events/vocabulary.js';
import type { CounterChild } from './metrics/counter.js';
import type { GaugeChild } from './metrics/gauge.js';
import type { TaskEventHandler } from './state/task-events.js';
import type { WorkerState } from './state/worker-state.js';
import type { RateLimitedLog } from './log.js';

type Route =
  | { kind: 'task'; type: TaskEventType; counter: CounterChild }
  | { kind: 'worker'; type: WorkerEventType; counter: CounterChild };

/** The exporter's own metrics the pipeline writes (SelfMetrics in src/metrics/self-metrics.ts). */
export interface PipelineMetrics {
  event(type: EventType): CounterChild;
  countInvalid(reason: InvalidReason, n?: number): void;
  readonly lastEvent: GaugeChild;
  /** Set when /metrics renders (updateLagGauge, a scrape step the wiring adds to the registry). */
  readonly lag: GaugeChild;
}

/** Upper bound on events in one message; a larger array is truncated (and counted) rather than walked. */
const MAX_BATCH = 10_000;

/**
 * Event timestamps the exporter's own metrics believe (event lag, last event, the lost-events
 * detector): at most a year old and at most a day ahead of the exporter's clock. Celery stamps
 * events with the sender's clock when it sends them, and neither broker keeps events long (Redis
 * pub/sub keeps nothing, the event queues expire within seconds), so a real event is seconds old;
 * a year still admits any backlog or skew an operator would want to see in the lag. Outside it,
 * the timestamp is a broken clock or a forged event (1.0 set the lag to 1.8e9 s, 95617584000 to
 * -9.4e10 s): counted in events_invalid_total{reason="timestamp"}, not used for those metrics.
 * Task durations use differences of timestamps of one task and are unaffected.
 */
const PLAUSIBLE_PAST_S = 365 * 86_400;
const PLAUSIBLE_FUTURE_S = 86_400;

/**
 * The lag the exporter reports is the median of the last LAG_WINDOW messages' lags: one event
 * (whatever its timestamp) cannot move the gauge alerts read, a real change moves it within
 * a handful of messages.
 */
const LAG_WINDOW = 15;

/**
 * decoded body → events → state: the one entry point transports call with each message (onBody).
 * Never throws: anything that cannot be used is counted in celery_exporter_events_invalid_total.
 */
export class EventPipeline {
  private readonly routes = new Map<string, Route>();
  private lastTs = NaN;
  private readonly lags = new Float64Array(LAG_WINDOW);
  private lagCount = 0;
  private readonly sorted = new Float64Array(LAG_WINDOW);

  constructor(
    private readonly self: PipelineMetrics,
    private readonly tasks: TaskEventHandler,
    private readonly workers: WorkerState,
    private readonly log: RateLimitedLog | undefined = undefined,
    private readonly now: () => number = Date.now,
  ) {
    for (const t of TASK_EVENT_TYPES) this.routes.set(t, { kind: 'task', type: t, counter: self.event(t) });
    for (const t of WORKER_EVENT_TYPES) this.routes.set(t, { kind: 'worker', type: t, counter: self.event(t) });
  }

  /** Sets celery_exporter_event_lag_seconds (a scrape step: the wiring adds it to the registry). */
  updateLagGauge(): void {
    const v = this.lagSeconds();
    if (!Number.isNaN(v)) this.self.lag.set(v);
  }

  /** Median event lag over the last LAG_WINDOW messages with a plausible timestamp; NaN before any. */
  lagSeconds(): number {
    const n = Math.min(this.lagCount, LAG_WINDOW);
    if (n === 0) return NaN;
    const a = this.sorted.subarray(0, n);
    a.set(this.lags.subarray(0, n));
    a.sort();
    return n % 2 === 1 ? a[(n - 1) / 2]! : (a[n / 2 - 1]! + a[n / 2]!) / 2;
  }

  /**
   * One message, whatever the broker: its body text as the transport's envelope decoder returned
   * it (src/broker/redis/event-messages.ts, src/broker/amqp/event-bodies.ts), or why the envelope
   * was rejected. The transports call nothing else.
   */
  onBody(body: string | Invalid): void {
    try {
      if (body instanceof Invalid) return this.self.countInvalid(body.reason);
      this.onBodyText(body);
    } catch (err) {
      this.internalError(err);
    }
  }

  /** A bug of ours must not stop the stream: count the message as unusable and say why, once a minute. */
  private internalError(err: unknown): void {
    this.self.countInvalid('bad_value');
    this.log?.warn('pipeline', { err: String(err) }, 'event processing failed; message skipped');
  }

  private onBodyText(text: string): void {
    const parsed = parseBody(text);
    if (parsed instanceof Invalid) return this.self.countInvalid(parsed.reason);
    const nowMs = this.now();
    if (Array.isArray(parsed)) {
      const n = parsed.length;
      if (n > MAX_BATCH) this.self.countInvalid('shape', n - MAX_BATCH);
      for (let i = 0; i < n && i < MAX_BATCH; i++) this.onEvent(parsed[i], nowMs);
    } else {
      this.onEvent(parsed, nowMs);
    }
    if (!Number.isNaN(this.lastTs)) {
      this.self.lastEvent.set(nowMs / 1000);
      this.lags[this.lagCount++ % LAG_WINDOW] = nowMs / 1000 - this.lastTs;
      this.lastTs = NaN;
    }
  }

  private onEvent(ev: unknown, nowMs: number): void {
    if (typeof ev !== 'object' || ev === null || Array.isArray(ev)) return this.self.countInvalid('shape');
    const e = ev as RawEvent;
    const type = e['type'];
    if (typeof type !== 'string') return this.self.countInvalid('shape');
    const route = this.routes.get(type);
    if (route === undefined) return this.self.countInvalid('unknown_type');
    const tsRaw = e['timestamp'];
    // Event timestamps are sender time.time(): absolute Unix seconds whatever utcoffset says.
    const ts = typeof tsRaw === 'number' && tsRaw > 0 && tsRaw < 1e11 ? tsRaw : NaN;
    if (route.kind === 'task') {
      const uuid = e['uuid'];
      if (typeof uuid !== 'string' || uuid === '') return this.self.countInvalid('missing_field');
      if (uuid.length > 256) return this.self.countInvalid('bad_value');
      this.tasks.handle(route.type, e, uuid, ts, nowMs);
    } else {
      const host = e['hostname'];
      if (typeof host !== 'string' || host === '') return this.self.countInvalid('missing_field');
      this.workers.handle(route.type, e, ts, nowMs);
    }
    route.counter.inc();
    if (!Number.isNaN(ts)) {
      const nowS = nowMs / 1000;
      if (ts >= nowS - PLAUSIBLE_PAST_S && ts <= nowS + PLAUSIBLE_FUTURE_S) this.lastTs = ts;
      else this.self.countInvalid('timestamp');
    }
  }
}
