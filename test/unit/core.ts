import { pino } from 'pino';
import { defaultConfig } from '../../src/config/config.js';
import { DEFAULT_LATENCY_BUCKETS, DEFAULT_QUEUE_WAIT_BUCKETS, DEFAULT_RUNTIME_BUCKETS } from '../../src/config/defaults.js';
import { Core, type CoreConfig } from '../../src/core.js';
import { parseMetrics, type Sample } from '../helpers/metrics.js';
import { envelope } from './fixtures.js';
import { decodeEnvelope } from '../../src/decoder/envelope.js';

export interface TestCore {
  core: Core;
  clock: { now: number };
  /** Feeds events (an object, or an array sent as one task.multi message). */
  feed(body: unknown): void;
  samples(): Sample[];
  advance(ms: number): void;
}

export function testConfig(over: Partial<CoreConfig['metrics']> = {}, workers: Partial<CoreConfig['workers']> = {}): CoreConfig {
  return {
    brokerMasked: 'redis://localhost:6379/0',
    transport: 'redis',
    workers: { timeout: undefined, purgeAfter: 600, stripHostnamePrefix: false, ...workers },
    metrics: {
      ...defaultConfig().metrics,
      runtimeBuckets: DEFAULT_RUNTIME_BUCKETS,
      queueWaitBuckets: DEFAULT_QUEUE_WAIT_BUCKETS,
      latencyBuckets: DEFAULT_LATENCY_BUCKETS,
      staticLabels: {},
      celeryExporterNames: false,
      maxTrackedTasks: 1000,
      trackedTaskTtl: 3600,
      maxLabelLength: 200,
      longRunningTaskThreshold: 3600,
      ...over,
    },
  };
}

/** A core with a fake clock and no default process metrics. */
export function makeCore(cfg: CoreConfig = testConfig(), startMs = 1_795_681_000_000): TestCore {
  const clock = { now: startMs };
  const core = new Core(cfg, pino({ level: 'silent' }), () => clock.now, { defaultMetrics: false });
  return {
    core,
    clock,
    feed: (body) => core.pipeline.onBody(decodeEnvelope(envelope(body))),
    samples: () => parseMetrics(core.registry.renderOwnSync()),
    advance(ms) {
      const end = clock.now + ms;
      while (clock.now < end) {
        clock.now = Math.min(end, clock.now + 1000);
        core.tick(clock.now);
      }
    },
  };
}
