/**
 * What gzip costs and saves on /metrics at ~20k series: render CPU and bytes, plain and through
 * zlib at the level the server uses (1) and at zlib's default (6). CPU is process CPU (user +
 * system, every thread: zlib runs in libuv's pool), best of several rounds.
 *   node bench/dist/bench/gzip.js
 */
import { pino } from 'pino';
import { constants, createGzip } from 'node:zlib';
import { defaultConfig } from '../src/config/config.js';
import { DEFAULT_LATENCY_BUCKETS, DEFAULT_QUEUE_WAIT_BUCKETS, DEFAULT_RUNTIME_BUCKETS } from '../src/config/defaults.js';
import { Core } from '../src/core.js';
import { DEFAULT_WORKLOAD, planTasks, redisEnvelope } from './events.js';
import { decodeRedisEvent } from '../src/broker/redis/event-messages.js';

const cfg = {
  brokerMasked: 'redis://bench', transport: 'redis',
  workers: { timeout: undefined, purgeAfter: 600, stripHostnamePrefix: false },
  metrics: {
    ...defaultConfig().metrics,
    runtimeBuckets: DEFAULT_RUNTIME_BUCKETS, queueWaitBuckets: DEFAULT_QUEUE_WAIT_BUCKETS, latencyBuckets: DEFAULT_LATENCY_BUCKETS,
    staticLabels: {}, celeryExporterNames: false, maxTrackedTasks: 100_000, trackedTaskTtl: 86_400, maxLabelLength: 200,
  },
};
const core = new Core(cfg, pino({ level: 'silent' }), Date.now, { defaultMetrics: false });
// The render-20k scenario's workload: 250 task names over 10 queues and 50 workers.
const plan = planTasks(50_000, { ...DEFAULT_WORKLOAD, taskNames: 250 }, Date.now() / 1000, 10_000);
for (const m of plan.messages) {
  const b = Buffer.from(redisEnvelope(m));
  core.pipeline.onBody(decodeRedisEvent(b, 0, b.length));
}

async function render(level: number | undefined): Promise<{ bytes: number; cpuMs: number; wallMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let bytes = 0;
  if (level === undefined) {
    await core.registry.renderTo((chunk) => {
      bytes += Buffer.byteLength(chunk);
    });
  } else {
    const z = createGzip({ level });
    z.on('data', (d: Buffer) => (bytes += d.length));
    const done = new Promise((r) => z.on('end', r));
    await core.registry.renderTo((chunk) => {
      z.write(chunk);
    });
    z.end();
    await done;
  }
  const cpu = process.cpuUsage(cpu0);
  return { bytes, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0 };
}

const series = core.registry.totalSeries;
const lines = (await core.registry.render()).split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
process.stdout.write(`${series} series, ${lines} sample lines\n`);
for (const [label, level] of [
  ['plain', undefined],
  ['gzip level 1 (served)', constants.Z_BEST_SPEED],
  ['gzip level 6 (zlib default)', constants.Z_DEFAULT_COMPRESSION],
] as const) {
  let best = { bytes: 0, cpuMs: Infinity, wallMs: Infinity };
  for (let i = 0; i < 7; i++) {
    const r = await render(level);
    if (r.cpuMs < best.cpuMs) best = r;
  }
  process.stdout.write(`${label.padEnd(28)} ${(best.bytes / 1024).toFixed(0).padStart(7)} KiB  CPU ${best.cpuMs.toFixed(1)} ms  wall ${best.wallMs.toFixed(1)} ms\n`);
}
