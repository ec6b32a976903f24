/**
 * In-process micro-benchmark of the pipeline (decode → state → metrics) on realistic messages,
 * without the socket. Reports the best of several rounds (robust to a busy machine).
 *   node bench/dist/bench/micro.js
 */
import { pino } from 'pino';
import { DEFAULT_LATENCY_BUCKETS, DEFAULT_QUEUE_WAIT_BUCKETS, DEFAULT_RUNTIME_BUCKETS } from '../src/config/defaults.js';
import { Core } from '../src/core.js';
import { decodeEnvelope } from '../src/decoder/envelope.js';
import { parseBody } from '../src/decoder/body.js';
import { DEFAULT_WORKLOAD, planTasks, redisEnvelope } from './events.js';

const TASKS = 40_000;
const plan = planTasks(TASKS, DEFAULT_WORKLOAD, Date.now() / 1000, 20_000);
const raws = plan.messages.map((m) => redisEnvelope(m));
const events = plan.events;

function best(label: string, rounds: number, fn: () => void): number {
  let min = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    fn();
    min = Math.min(min, performance.now() - t);
  }
  const us = (min * 1000) / events;
  process.stdout.write(`${label.padEnd(28)} ${us.toFixed(3)} µs/event (${(us * events / raws.length).toFixed(3)} µs/message)\n`);
  return us;
}

const cfg = {
  brokerMasked: 'redis://bench', transport: 'redis',
  workers: { timeout: undefined, purgeAfter: 600, stripHostnamePrefix: false },
  metrics: {
    runtimeBuckets: DEFAULT_RUNTIME_BUCKETS, queueWaitBuckets: DEFAULT_QUEUE_WAIT_BUCKETS, latencyBuckets: DEFAULT_LATENCY_BUCKETS,
    staticLabels: {}, celeryExporterNames: false, maxTrackedTasks: 100_000, trackedTaskTtl: 86_400, maxLabelLength: 200,
  },
};
const core = new Core(cfg, pino({ level: 'silent' }), Date.now, { defaultMetrics: false });
let sink = 0;
best('envelope only', 7, () => {
  for (const r of raws) sink += (decodeEnvelope(r) as string).length;
});
best('envelope + JSON.parse', 7, () => {
  for (const r of raws) {
    const b = parseBody(decodeEnvelope(r) as string);
    sink += Array.isArray(b) ? b.length : 1;
  }
});
best('full pipeline', 7, () => {
  for (const r of raws) core.pipeline.onRedisMessage(r);
});
process.stdout.write(`(${events} events, ${raws.length} messages; sink ${sink % 7})\n`);
