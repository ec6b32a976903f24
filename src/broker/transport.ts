import type { Invalid } from '../decoder/invalid.js';

/**
 * One broker's event stream. A transport connects, subscribes, feeds every message to the
 * pipeline and reconnects by itself; it never throws into the daemon.
 */
export interface EventTransport {
  readonly kind: 'redis' | 'amqp';
  /** Begins connecting; resolves at once (connection progress is reported through hooks). */
  start(): void;
  stop(): Promise<void>;
  /** Connected and subscribed: events can arrive. */
  readonly ready: boolean;
}

/**
 * What a transport feeds: the daemon's pipeline, or another consumer of events (the `events`
 * command). Each transport decodes its own envelope (redis/event-messages.ts,
 * amqp/event-bodies.ts) and hands over the body text, or why the message was rejected.
 */
export interface EventSink {
  onBody(body: string | Invalid): void;
}

export interface TransportHooks {
  pipeline: EventSink;
  /** Called on every change of readiness, with a short reason for the log. */
  onReadyChange(ready: boolean, reason: string): void;
  /** Called each time a connection is re-established after a loss. */
  onReconnect?(component: string): void;
  /** The event lag the pipeline last measured (seconds); read per socket read, not per event. */
  eventLagSeconds?(): number;
  /** The broker dropped the subscription while the exporter was behind: events were lost. */
  onEventsDropped?(): void;
  /** With --state-file: its saves, for a transport that acknowledges only what a save includes. */
  stateSaves?: StateSaves;
  /** RabbitMQ: the --event-queue-name queue was refused (other arguments, or another consumer). */
  onEventQueueRefused?(reason: 'arguments' | 'in_use'): void;
}

/** The state file's saves, as a transport sees them (src/continuity/persister.ts provides them). */
export interface StateSaves {
  /** Runs `cb` synchronously right after each successful save: everything processed so far is on disk. */
  onSaved(cb: () => void): void;
  /** Asks for a save soon (at a bounded rate): unacknowledged deliveries are piling up. */
  requestSave(): void;
  /** Saves now; true when it reached the disk. */
  saveNow(): boolean;
}
