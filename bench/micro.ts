/**
 * In-process micro-benchmark of the pipeline (decode → state → metrics) on realistic messages,
 * without the socket. Reports the best of several rounds (robust to a busy machine).
 *   node bench/dist/bench/micro.js
 */
import { pino } from 'pino';
import { buildEventPath } from '../src/app/event-path.js';
import { defaultConfig } from '../src/config/config.js';
import { parseBrokerUrl } from '../src/config/broker-url.js';
import { decodeEnvelopeBuffer } from '../src/decoder/envelope.js';
import { parseBody } from '../src/decoder/body.js';
import { DEFAULT_WORKLOAD, planTasks, redisEnvelope } from './events.js';
import { decodeRedisEvent } from '../src/broker/redis/event-messages.js';

const TASKS = 40_000;
const plan = planTasks(TASKS, DEFAULT_WORKLOAD, Date.now() / 1000, 20_000);
const raws = plan.messages.map((m) => redisEnvelope(m));
// One buffer holding every message back to back, as socket reads deliver them.
const bufs = raws.map((r) => Buffer.from(r));
const all = Buffer.concat(bufs);
const bounds: number[] = [];
for (let i = 0, off = 0; i < bufs.length; i++) {
  bounds.push(off, off + bufs[i]!.length);
  off += bufs[i]!.length;
}
const events = plan.events;

function best(label: string, rounds: number, fn: () => void): number {
  let min = Infinity;
  for (let r = 0; r < rounds; r++) {
    // CPU time, not wall time: on a shared machine the wall clock also counts other processes.
    const t = process.cpuUsage();
    fn();
    const d = process.cpuUsage(t);
    min = Math.min(min, (d.user + d.system) / 1000);
  }
  const us = (min * 1000) / events;
  process.stdout.write(`${label.padEnd(28)} ${us.toFixed(3)} µs/event (${(us * events / raws.length).toFixed(3)} µs/message)\n`);
  return us;
}

const base = defaultConfig();
const cfg = { ...base, broker: { ...base.broker, url: parseBrokerUrl('redis://bench') } };
const { metrics, pipeline } = buildEventPath(cfg, pino({ level: 'silent' }), { defaultMetrics: false });
let sink = 0;
best('envelope only', 7, () => {
  for (let i = 0; i < bounds.length; i += 2) sink += (decodeEnvelopeBuffer(all, bounds[i]!, bounds[i + 1]!) as string).length;
});
best('envelope + JSON.parse', 7, () => {
  for (let i = 0; i < bounds.length; i += 2) {
    const b = parseBody(decodeEnvelopeBuffer(all, bounds[i]!, bounds[i + 1]!) as string);
    sink += Array.isArray(b) ? b.length : 1;
  }
});
best('full pipeline', 7, () => {
  for (let i = 0; i < bounds.length; i += 2) pipeline.onBody(decodeRedisEvent(all, bounds[i]!, bounds[i + 1]!));
});
process.stdout.write(`(${events} events, ${raws.length} messages; sink ${sink % 7})\n`);
