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
            'Times Redis closed the event subscription while the exporter was behind (pub/sub output-buffer limit, client eviction, or a kill): ' +
            'the events Redis had queued for the exporter were lost. Counts incidents, not events; always 0 on RabbitMQ.',
        }),
      )
      .labels();
  }
}
