import { pino } from 'pino';
import { buildEventPath, type EventPath } from '../../src/app/event-path.js';
import { defaultConfig, type Config } from '../../src/config/config.js';
import { decodeEnvelope } from '../../src/decoder/envelope.js';
import { parseMetrics, type Sample } from '../helpers/metrics.js';
import { envelope } from './fixtures.js';

/** The event path (metrics, state, pipeline) with a fake clock and no default process metrics. */
export interface TestCore extends EventPath {
  clock: { now: number };
  /** Feeds events (an object, or an array sent as one task.multi message). */
  feed(body: unknown): void;
  samples(): Sample[];
  advance(ms: number): void;
}

/**
 * The one way tests build a configuration: the daemon's real defaults (defaultConfig: no option,
 * no environment), smaller task bounds (1,000 tasks, 1 h TTL) and these overrides.
 */
export function testConfig(
  metrics: Partial<Config['metrics']> = {},
  workers: Partial<Config['workers']> = {},
  queues: Partial<Config['queues']> = {},
): Config {
  const cfg = defaultConfig();
  return {
    ...cfg,
    metrics: { ...cfg.metrics, maxTrackedTasks: 1000, trackedTaskTtl: 3600, ...metrics },
    workers: { ...cfg.workers, ...workers },
    queues: { ...cfg.queues, ...queues },
  };
}

export function makeCore(cfg: Config = testConfig(), startMs = 1_795_681_000_000): TestCore {
  const clock = { now: startMs };
  const parts = buildEventPath(cfg, pino({ level: 'silent' }), { now: () => clock.now, defaultMetrics: false });
  const { metrics, state, pipeline } = parts;
  return {
    ...parts,
    clock,
    feed: (body) => pipeline.onBody(decodeEnvelope(envelope(body))),
    samples: () => parseMetrics(metrics.registry.renderOwnSync()),
    advance(ms) {
      const end = clock.now + ms;
      while (clock.now < end) {
        clock.now = Math.min(end, clock.now + 1000);
        state.tick(clock.now);
      }
    },
  };
}
