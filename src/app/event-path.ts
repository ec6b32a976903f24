import type { Config } from '../config/config.js';
import { RateLimitedLog, type Logger } from '../log.js';
import { ExporterMetrics } from '../metrics/exporter-metrics.js';
import { EventPipeline } from '../pipeline.js';
import { EventState } from '../state/event-state.js';

/** decoder → state → metrics, without any I/O: the three parts the daemon hands out. */
export interface EventPath {
  readonly metrics: ExporterMetrics;
  readonly state: EventState;
  readonly pipeline: EventPipeline;
}

export interface EventPathOptions {
  /** Include prom-client's process_* and nodejs_* metrics (default true). */
  defaultMetrics?: boolean;
  /** Wall clock (ms) of the task and worker bookkeeping and of the event lag. */
  now?: () => number;
  /** The clock (ms) the per-tick time slices are measured with (tests make them deterministic). */
  sliceClock?: () => number;
}

/**
 * Builds config → metrics → state → pipeline. The daemon wraps it with a transport, timers and
 * an HTTP server; tests and the benchmark drive it directly.
 */
export function buildEventPath(cfg: Config, log: Logger, opts: EventPathOptions = {}): EventPath {
  const now = opts.now ?? Date.now;
  const metrics = new ExporterMetrics(cfg, { defaultMetrics: opts.defaultMetrics });
  const state = new EventState(cfg, metrics, log, { now, sliceClock: opts.sliceClock });
  const pipeline = new EventPipeline(metrics.self, state.tasks, state.workers, new RateLimitedLog(log), now);
  metrics.registry.beforeRender(() => pipeline.updateLagGauge());
  return { metrics, state, pipeline };
}
