/**
 * Event-loop stall while offline hosts are purged: 100,000 producer hostnames with task series,
 * all stale at once; the daemon calls EventState.tick once a second. Reports the longest tick (the
 * longest the loop is blocked) and how long the whole purge takes.
 *   node bench/dist/bench/purge.js [hosts]
 */
import { pino } from 'pino';
import { buildEventPath } from '../src/app/event-path.js';
import { defaultConfig } from '../src/config/config.js';
import { decodeAmqpBody } from '../src/decoder/body.js';

const HOSTS = Number(process.argv[2] ?? 100_000);
let now = 1_795_681_000_000;
const base = defaultConfig();
const cfg = {
  ...base,
  workers: { ...base.workers, purgeAfter: 60 },
  metrics: { ...base.metrics, maxTrackedTasks: 1000, trackedTaskTtl: 3600, maxSeries: 0 },
};
const { metrics, state, pipeline } = buildEventPath(cfg, pino({ level: 'silent' }), { now: () => now, defaultMetrics: false });
const T0 = now / 1000;
for (let i = 0; i < HOSTS; i++) {
  const ev = { type: 'task-sent', uuid: `u${i}`, name: 'app.t', queue: 'q', hostname: `producer-${i}@h`, timestamp: T0 };
  pipeline.onBody(decodeAmqpBody(Buffer.from(JSON.stringify(ev)), 'application/json', 'utf-8'));
}
const before = metrics.registry.totalSeries;
now += 120_000;
let ticks = 0;
let longest = 0;
const start = performance.now();
while (metrics.registry.totalSeries > before - HOSTS && ticks < 100_000) {
  const t = performance.now();
  state.tick(now);
  longest = Math.max(longest, performance.now() - t);
  now += 1000;
  ticks++;
}
const total = performance.now() - start;
console.log(
  JSON.stringify({ hosts: HOSTS, seriesBefore: before, seriesAfter: metrics.registry.totalSeries, ticks, longestTickMs: Math.round(longest * 10) / 10, busyMs: Math.round(total) }),
);
