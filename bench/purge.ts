/**
 * Event-loop stall while offline hosts are purged: 100,000 producer hostnames with task series,
 * all stale at once; the daemon calls Core.tick once a second. Reports the longest tick (the
 * longest the loop is blocked) and how long the whole purge takes.
 *   node bench/dist/bench/purge.js [hosts]
 */
import { pino } from 'pino';
import { defaultConfig } from '../src/config/config.js';
import { DEFAULT_LATENCY_BUCKETS, DEFAULT_QUEUE_WAIT_BUCKETS, DEFAULT_RUNTIME_BUCKETS } from '../src/config/defaults.js';
import { Core } from '../src/core.js';
import { decodeAmqpBody } from '../src/decoder/body.js';

const HOSTS = Number(process.argv[2] ?? 100_000);
let now = 1_795_681_000_000;
const core = new Core(
  {
    brokerMasked: 'redis://localhost/0',
    transport: 'redis',
    workers: { timeout: undefined, purgeAfter: 60, stripHostnamePrefix: false },
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
      maxSeries: 0,
    },
  },
  pino({ level: 'silent' }),
  () => now,
  { defaultMetrics: false },
);
const T0 = now / 1000;
for (let i = 0; i < HOSTS; i++) {
  const ev = { type: 'task-sent', uuid: `u${i}`, name: 'app.t', queue: 'q', hostname: `producer-${i}@h`, timestamp: T0 };
  core.pipeline.onBody(decodeAmqpBody(Buffer.from(JSON.stringify(ev)), 'application/json', 'utf-8'));
}
const before = core.registry.totalSeries;
now += 120_000;
let ticks = 0;
let longest = 0;
const start = performance.now();
while (core.registry.totalSeries > before - HOSTS && ticks < 100_000) {
  const t = performance.now();
  core.tick(now);
  longest = Math.max(longest, performance.now() - t);
  now += 1000;
  ticks++;
}
const total = performance.now() - start;
console.log(
  JSON.stringify({ hosts: HOSTS, seriesBefore: before, seriesAfter: core.registry.totalSeries, ticks, longestTickMs: Math.round(longest * 10) / 10, busyMs: Math.round(total) }),
);
