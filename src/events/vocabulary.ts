/**
 * The event vocabulary every layer shares: which Celery events the exporter reads, what a raw
 * event is, and why a message or event can be rejected. The decoder, the pipeline, the state and
 * the exporter's own metrics all take these lists from here (docs/protocol.md §3 lists the events).
 */

/** Task events, in the order a task's life usually produces them. */
export const TASK_EVENT_TYPES = [
  'task-sent',
  'task-received',
  'task-started',
  'task-succeeded',
  'task-failed',
  'task-rejected',
  'task-revoked',
  'task-retried',
  'task-cancelled',
] as const;
export type TaskEventType = (typeof TASK_EVENT_TYPES)[number];

export const WORKER_EVENT_TYPES = ['worker-online', 'worker-heartbeat', 'worker-offline'] as const;
export type WorkerEventType = (typeof WORKER_EVENT_TYPES)[number];

/** Every event type counted in celery_exporter_events_total; any other type is `unknown_type`. */
export const EVENT_TYPES = [...TASK_EVENT_TYPES, ...WORKER_EVENT_TYPES] as const;
export type EventType = TaskEventType | WorkerEventType;

/** An event as it came off the wire: a plain object whose fields are checked where read. */
export type RawEvent = Record<string, unknown>;

/** Bounded set of reasons a message or event is rejected; keep it small (it is a label). */
export const INVALID_REASONS = [
  'envelope', // not a kombu JSON envelope
  'encoding', // body_encoding unknown or base64 broken
  'content_type', // a serializer we do not read (pickle, yaml, msgpack, …)
  'compression', // compressed body
  'json', // body is not JSON
  'shape', // body/event is not an object or array of objects, or has no string "type"
  'unknown_type', // an event type that is neither task-* nor worker-* we know
  'missing_field', // a task event without uuid, or a worker event without hostname
  'bad_value', // a field with a type or value that cannot be used (e.g. a string timestamp)
  'timestamp', // an event timestamp over a year old or over a day ahead: the event counts, its time is ignored
] as const;
export type InvalidReason = (typeof INVALID_REASONS)[number];
