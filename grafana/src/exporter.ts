import { JOB } from './common.js';
import { dashboard, q, rate, row, sel, stat, table, timeseries, type Json } from './lib.js';

const f = sel('job');

export const exporter: Json = dashboard({
  uid: 'celery-exporter',
  title: 'Celery / Exporter',
  description: 'The exporter itself: scrape health, event stream, invalid events, lag, reconnects, remote control, tracked tasks, broker polls, resources.',
  variables: [JOB],
  panels: [
    row('Now'),
    stat({ title: 'Targets up', unit: 'short', description: 'Exporter targets Prometheus scrapes successfully.', queries: [q(`sum(up{${f}})`)] }),
    stat({ title: 'Broker connected', unit: 'bool_yes_no', description: 'All exporters connected and subscribed to the event stream.', queries: [q(`min(celery_exporter_broker_up{${f}})`)] }),
    stat({ title: 'Events per second', unit: 'ops', description: 'Valid Celery events processed per second.', queries: [q(`sum(${rate('celery_exporter_events_total', f)})`)] }),
    stat({ title: 'Event lag', unit: 's', description: 'Exporter clock minus the last event’s timestamp (includes clock skew).', queries: [q(`max(celery_exporter_event_lag_seconds{${f}})`)] }),
    stat({ title: 'Tracked tasks', unit: 'short', description: 'Tasks in the in-flight map (sent or running, not finished).', queries: [q(`sum(celery_exporter_tracked_tasks{${f}})`)] }),
    stat({ title: 'Series exported', unit: 'short', description: 'Samples per scrape: the exporter’s cardinality.', queries: [q(`sum(scrape_samples_scraped{${f}})`)] }),

    row('Event stream'),
    timeseries({
      title: 'Events by type',
      unit: 'ops',
      min: 0,
      stack: true,
      description: 'Valid events processed per second, by event type.',
      queries: [q(`sum by (type) (${rate('celery_exporter_events_total', f)})`, '{{type}}')],
    }),
    timeseries({
      title: 'Invalid events',
      unit: 'ops',
      min: 0,
      description: 'Messages or events skipped per second, by reason (serializer, compression, malformed…).',
      queries: [q(`sum by (reason) (${rate('celery_exporter_events_invalid_total', f)})`, '{{reason}}')],
    }),
    timeseries({
      title: 'Event lag and silence',
      unit: 's',
      min: 0,
      description: 'Lag: exporter clock minus the last event’s timestamp. Silence: seconds since the last valid event arrived.',
      queries: [
        q(`max by (instance) (celery_exporter_event_lag_seconds{${f}})`, '{{instance}} lag'),
        q(`time() - max by (instance) (celery_exporter_last_event_timestamp_seconds{${f}})`, '{{instance}} silence'),
      ],
    }),
    timeseries({
      title: 'Reconnects',
      unit: 'ops',
      min: 0,
      description: 'Broker connections re-established after a loss per second, by component (events: the event subscriber; queues: the queue poller). Repeated reconnects raise CeleryExporterReconnecting.',
      queries: [q(`sum by (component) (${rate('celery_exporter_reconnects_total', f)})`, '{{component}}')],
    }),

    row('Remote control'),
    timeseries({
      title: 'enable_events broadcasts',
      unit: 'ops',
      min: 0,
      description: 'enable_events broadcasts the exporter sends per second (at start, then every --enable-events-interval), so workers started without -E send task events.',
      queries: [q(`sum by (instance) (${rate('celery_exporter_enable_events_broadcasts_total', f)})`, '{{instance}}')],
    }),
    timeseries({
      title: 'Invalid remote-control replies',
      unit: 'ops',
      min: 0,
      description: 'Remote-control replies the exporter could not read per second, by reason. `content_type`: a worker replies in pickle (its task_serializer), so its pool metrics and ping are missing.',
      queries: [q(`sum by (reason) (${rate('celery_exporter_control_replies_invalid_total', f)})`, '{{reason}}')],
    }),

    row('Tracked tasks and polls'),
    timeseries({ title: 'Tracked tasks', unit: 'short', min: 0, w: 6, description: 'In-flight map size (bounded by --max-tracked-tasks).', queries: [q(`sum by (instance) (celery_exporter_tracked_tasks{${f}})`, '{{instance}}')] }),
    timeseries({
      title: 'Tracked tasks evicted',
      unit: 'ops',
      min: 0,
      w: 6,
      description: 'In-flight tasks dropped before their last event, by reason (capacity, ttl).',
      queries: [q(`sum by (reason) (${rate('celery_exporter_tracked_tasks_evicted_total', f)})`, '{{reason}}')],
    }),
    timeseries({ title: 'Broker poll duration', unit: 's', min: 0, w: 6, description: 'How long the last round of each background poller took.', queries: [q(`max by (poller) (celery_exporter_poll_duration_seconds{${f}})`, '{{poller}}')] }),
    timeseries({
      title: 'Broker poll errors',
      unit: 'ops',
      min: 0,
      w: 6,
      description: 'Poller rounds that failed or timed out per second; their series are withheld meanwhile.',
      queries: [q(`sum by (poller) (${rate('celery_exporter_poll_errors_total', f)})`, '{{poller}}')],
    }),

    row('Process'),
    timeseries({ title: 'CPU', unit: 'percentunit', min: 0, w: 6, description: 'CPU time per second (1 = one core).', queries: [q(`sum by (instance) (${rate('process_cpu_seconds_total', f)})`, '{{instance}}')] }),
    timeseries({
      title: 'Memory',
      unit: 'bytes',
      min: 0,
      w: 6,
      description: 'Resident memory and V8 heap used.',
      queries: [
        q(`sum by (instance) (process_resident_memory_bytes{${f}})`, '{{instance}} resident'),
        q(`sum by (instance) (nodejs_heap_size_used_bytes{${f}})`, '{{instance}} heap used'),
      ],
    }),
    timeseries({ title: 'Event loop lag p99', unit: 's', min: 0, w: 6, description: 'Node.js event loop delay, 99th percentile.', queries: [q(`max by (instance) (nodejs_eventloop_lag_p99_seconds{${f}})`, '{{instance}}')] }),
    timeseries({ title: 'Scrape duration', unit: 's', min: 0, w: 6, description: 'How long Prometheus takes to scrape /metrics.', queries: [q(`max by (instance) (scrape_duration_seconds{${f}})`, '{{instance}}')] }),
    table({
      title: 'Exporters',
      unit: 'short',
      description: 'Version, Node.js version, transport and broker (password masked) of each exporter.',
      queries: [{ expr: `max by (instance, version, nodejs_version, transport, broker) (celery_exporter_build_info{${f}})`, instant: true }],
      columnNames: { A: 'Info' },
      h: 5,
    }),
  ],
});
