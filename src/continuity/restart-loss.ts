import type { Logger } from '../log.js';
import type { ExporterMetrics } from '../metrics/exporter-metrics.js';
import type { EventState } from '../state/event-state.js';

/** What the watch listens to and counts in. */
export interface RestartLossParts {
  readonly metrics: Pick<ExporterMetrics, 'stream'>;
  readonly state: Pick<EventState, 'onUnknownTaskFinished'>;
}

/**
 * How long after a restart a finishing task never seen before is taken as evidence: long enough
 * for the tasks that started while the exporter was down to finish (most take seconds), short
 * enough that a later loss of another cause is not blamed on the restart.
 */
export const RESTART_LOSS_WINDOW_MS = 10 * 60_000;

/**
 * After a restart that restored --state-file, on a broker that keeps nothing for an absent
 * subscriber (Redis pub/sub; RabbitMQ without --event-queue-name), the events published while
 * the exporter was down are gone. The evidence it can have, within RESTART_LOSS_WINDOW_MS:
 * - the workers' inspect answer at start names a task running or reserved that the state file did
 *   not hold (its task-received came while the exporter was down): `rebuilt()`;
 * - a task-succeeded/failed of a task it never saw sent, received or started, that neither the
 *   file nor the workers knew (it started in the gap and finished before the rebuild).
 * The first evidence counts one incident in celery_exporter_events_dropped_suspected_total (it
 * counts incidents, not events) with one log line; later evidence adds nothing. `disarm()` ends the
 * watch: a loss the transport reports itself is counted there, and after the first disconnect a
 * loss is no longer the restart's.
 */
export class RestartLossWatch {
  private armed = true;
  private readonly startedAt: number;

  constructor(
    private readonly parts: RestartLossParts,
    private readonly log: Logger,
    private readonly savedAtMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
    parts.state.onUnknownTaskFinished(() => this.evidence('a task finished that the exporter never saw start and that neither the state file nor the workers knew'));
  }

  /** The start's rebuild from inspect added tasks the state file did not hold. */
  rebuilt(tasks: number): void {
    if (tasks > 0) this.evidence(`the workers reported ${tasks} running or reserved task${tasks === 1 ? '' : 's'} the state file did not hold`);
  }

  disarm(): void {
    this.armed = false;
    this.parts.state.onUnknownTaskFinished(undefined);
  }

  private evidence(what: string): void {
    if (!this.armed) return;
    this.disarm();
    if (this.now() - this.startedAt > RESTART_LOSS_WINDOW_MS) return;
    this.parts.metrics.stream.droppedSuspected.inc();
    this.log.warn(
      { downSeconds: Math.round((this.startedAt - this.savedAtMs) / 1000), evidence: what },
      `events lost across the restart: ${what}; the events published while the exporter was down are gone ` +
        '(counted once in celery_exporter_events_dropped_suspected_total). ' +
        'Redis pub/sub keeps nothing for an absent subscriber: run two replicas, or on RabbitMQ use --event-queue-name',
    );
  }
}
