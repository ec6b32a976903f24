import type { Core } from '../core.js';
import type { Logger } from '../log.js';

/**
 * How long after a restart a finishing task never seen before is taken as evidence: long enough
 * for the tasks that started while the exporter was down to finish (most take seconds), short
 * enough that a later loss of another cause is not blamed on the restart.
 */
export const RESTART_LOSS_WINDOW_MS = 10 * 60_000;

/**
 * After a restart that restored --state-file, on a broker that keeps nothing for an absent
 * subscriber (Redis pub/sub; RabbitMQ without --event-queue-name), the events published while
 * the exporter was down are gone. The evidence it can have: a task-succeeded/failed of a task it
 * never saw sent, received or started, that the state file did not hold and the workers'
 * inspect answer did not name. The first such task within RESTART_LOSS_WINDOW_MS counts one
 * incident in celery_exporter_events_dropped_suspected_total (it counts incidents, not events)
 * with one log line; later ones add nothing. Returns the function that disarms it (a loss the
 * transport itself reports is counted there, not again here).
 */
export function watchRestartLoss(core: Core, log: Logger, savedAtMs: number, now: () => number = Date.now): () => void {
  const startedAt = now();
  const disarm = () => {
    core.onUnknownTaskFinished = undefined;
  };
  core.onUnknownTaskFinished = () => {
    disarm();
    if (now() - startedAt > RESTART_LOSS_WINDOW_MS) return;
    core.stream.droppedSuspected.inc();
    log.warn(
      { downSeconds: Math.round((startedAt - savedAtMs) / 1000) },
      'events lost across the restart: a task finished that the exporter never saw start and that neither the state file nor the workers knew; ' +
        'the events published while it was down are gone (counted once in celery_exporter_events_dropped_suspected_total). ' +
        'Redis pub/sub keeps nothing for an absent subscriber: run two replicas, or on RabbitMQ use --event-queue-name',
    );
  };
  return disarm;
}
