/**
 * What gzip costs and saves on /metrics at ~20k series: render CPU and bytes, plain and through
 * zlib at the level the server uses (1) and at zlib's default (6). CPU is process CPU (user +
 * system, every thread: zlib runs in libuv's pool), best of several rounds.
 *   node bench/dist/bench/gzip.js
 */
import { pino } from 'pino';
import { buildEventPath } from '../src/app/event-path.js';
import { constants, createGzip } from 'node:zlib';
import { defaultConfig } from '../src/config/config.js';
import { parseBrokerUrl } from '../src/config/broker-url.js';
import { DEFAULT_WORKLOAD, planTasks, redisEnvelope } from './events.js';
import { decodeRedisEvent } from '../src/broker/redis/event-messages.js';

const base = defaultConfig();
const cfg = { ...base, broker: { ...base.broker, url: parseBrokerUrl('redis://bench') } };
const { metrics, pipeline } = buildEventPath(cfg, pino({ level: 'silent' }), { defaultMetrics: false });
// The render-20k scenario's workload: 250 task names over 10 queues and 50 workers.
const plan = planTasks(50_000, { ...DEFAULT_WORKLOAD, taskNames: 250 }, Date.now() / 1000, 10_000);
for (const m of plan.messages) {
  const b = Buffer.from(redisEnvelope(m));
  pipeline.onBody(decodeRedisEvent(b, 0, b.length));
}

async function render(level: number | undefined): Promise<{ bytes: number; cpuMs: number; wallMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let bytes = 0;
  if (level === undefined) {
    await metrics.registry.renderTo((chunk) => {
      bytes += Buffer.byteLength(chunk);
    });
  } else {
    const z = createGzip({ level });
    z.on('data', (d: Buffer) => (bytes += d.length));
    const done = new Promise((r) => z.on('end', r));
    await metrics.registry.renderTo((chunk) => {
      z.write(chunk);
    });
    z.end();
    await done;
  }
  const cpu = process.cpuUsage(cpu0);
  return { bytes, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0 };
}

const series = metrics.registry.totalSeries;
const lines = (await metrics.registry.render()).split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
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
