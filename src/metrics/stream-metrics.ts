import { Counter, type CounterChild } from './counter.js';
import type { MetricRegistry } from './registry.js';

/** What the event stream lost without the exporter being able to count the events themselves. */
export class StreamMetrics {
  readonly droppedSuspected: CounterChild;

  constructor(reg: MetricRegistry) {
    this.droppedSuspected = reg
      .register(
        new Counter({
          name: 'celery_exporter_events_dropped_suspected_total',
          help:
            'Incidents in which events were lost before being counted: Redis closed the event subscription while the exporter was behind ' +
            '(pub/sub output-buffer limit, client eviction, or a kill); after a restart from --state-file, a task finished or was running that the ' +
            'exporter never saw start (events published while it was down); a named RabbitMQ event queue found full. Counts incidents, not events.',
        }),
      )
      .labels();
  }
}
