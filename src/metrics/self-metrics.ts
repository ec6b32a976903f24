import { Counter, type CounterChild } from './counter.js';
import { Gauge, type GaugeChild } from './gauge.js';
import type { MetricRegistry } from './registry.js';
import { EVENT_TYPES, INVALID_REASONS, type EventType, type InvalidReason } from '../events/vocabulary.js';

export interface BuildInfo {
  version: string;
  broker: string;
  transport: string;
}

/** The exporter's own health: events seen, rejected, lag and tracked state. */
export class SelfMetrics {
  readonly brokerUp: GaugeChild;
  readonly events: Counter;
  readonly invalid: Counter;
  readonly lastEvent: GaugeChild;
  readonly lag: GaugeChild;
  /** The lag gauge's family: its value is set when /metrics renders (the pipeline's median). */
  readonly lagFamily: Gauge;
  readonly trackedTasks: Gauge;
  readonly evicted: Counter;
  readonly pollDuration: Gauge;
  readonly pollErrors: Counter;
  readonly pollSuccess: Gauge;
  readonly pollOnDemand: Counter;
  readonly refreshTimeouts: Counter;
  readonly reconnects: Counter;
  private readonly eventChildren = new Map<string, CounterChild>();
  private readonly invalidChildren = new Map<string, CounterChild>();

  constructor(reg: MetricRegistry, build: BuildInfo) {
    // Registration order is the exposition order (the golden file pins it).
    const gauge = (name: string, help: string, labelNames: string[] = []) => reg.register(new Gauge({ name, help, labelNames }));
    const counter = (name: string, help: string, labelNames: string[] = []) => reg.register(new Counter({ name, help, labelNames }));
    gauge('celery_exporter_build_info', 'Exporter version, Node.js version and broker (password masked); always 1.', [
      'version',
      'nodejs_version',
      'transport',
      'broker',
    ])
      .labels(build.version, process.version, build.transport, build.broker)
      .set(1);
    this.brokerUp = gauge('celery_exporter_broker_up', '1 while the exporter is connected to the broker and subscribed to the event stream.').labels();
    this.events = counter('celery_exporter_events_total', 'Celery events processed, by event type.', ['type']);
    for (const t of EVENT_TYPES) this.eventChildren.set(t, this.events.labels(t));
    this.invalid = counter('celery_exporter_events_invalid_total', 'Messages or events skipped because they could not be used, by reason.', ['reason']);
    for (const r of INVALID_REASONS) this.invalidChildren.set(r, this.invalid.labels(r));
    this.lastEvent = gauge(
      'celery_exporter_last_event_timestamp_seconds',
      'When the exporter last received a valid event (exporter clock, Unix seconds).',
    ).labels();
    this.lagFamily = gauge(
      'celery_exporter_event_lag_seconds',
      'Exporter clock minus the event timestamp, median over the last 15 messages (includes clock skew between hosts; implausible timestamps are left out).',
    );
    this.lag = this.lagFamily.labels();
    this.trackedTasks = gauge('celery_exporter_tracked_tasks', 'Tasks held in the in-flight map (sent or running, not yet finished).');
    this.evicted = counter(
      'celery_exporter_tracked_tasks_evicted_total',
      'Tasks dropped from the in-flight map before their last event, by reason (capacity, ttl).',
      ['reason'],
    );
    this.evicted.labels('capacity');
    this.evicted.labels('ttl');
    this.pollDuration = gauge('celery_exporter_poll_duration_seconds', 'How long the last round of each background poller took.', ['poller']);
    this.pollErrors = counter('celery_exporter_poll_errors_total', 'Background poller rounds that failed or timed out.', ['poller']);
    this.pollSuccess = gauge(
      'celery_exporter_poll_success_timestamp_seconds',
      'Unix time at which the last successful round of each poller started: the values it wrote are at most this old.',
      ['poller'],
    );
    this.pollOnDemand = counter(
      'celery_exporter_poll_on_demand_total',
      'Poller rounds run ahead of their interval to keep queue depth fresh, by trigger (scrape, task_sent).',
      ['poller', 'trigger'],
    );
    this.refreshTimeouts = counter(
      'celery_exporter_scrape_refresh_timeouts_total',
      'Scrapes that waited --queue-scrape-wait for a fresh round in vain and served the previous values.',
      ['poller'],
    );
    this.reconnects = counter(
      'celery_exporter_reconnects_total',
      'Broker connections re-established after a loss, by component (events, queues, control, …).',
      ['component'],
    );
  }

  event(type: EventType): CounterChild {
    return this.eventChildren.get(type)!;
  }

  countInvalid(reason: InvalidReason, n = 1): void {
    this.invalidChildren.get(reason)!.inc(n);
  }
}
