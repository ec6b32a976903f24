/**
 * Load generator, run as its own process so its CPU never counts against the exporter.
 * Prepares every message before the clock starts, prints "READY …", waits for "go" on stdin,
 * publishes at a fixed event rate (or as fast as possible) and prints one JSON result line.
 *
 *   node generator.js --broker redis --url redis://127.0.0.1:6379 --db 13 --tasks 50000 --rate 20000
 */
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { DEFAULT_WORKLOAD, planTasks, redisEnvelope } from './events.js';

interface Args {
  broker: 'redis' | 'amqp';
  url: string;
  db: number;
  tasks: number;
  rate: number;
  taskNames: number;
  lostRatio: number;
  prefix: string;
}

function parseArgs(argv: string[]): Args {
  const get = (k: string, d: string) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : d;
  };
  return {
    broker: get('broker', 'redis') as 'redis' | 'amqp',
    url: get('url', 'redis://127.0.0.1:6379'),
    db: Number(get('db', '13')),
    tasks: Number(get('tasks', '10000')),
    rate: Number(get('rate', '0')),
    taskNames: Number(get('task-names', String(DEFAULT_WORKLOAD.taskNames))),
    lostRatio: Number(get('lost-ratio', '0')),
    prefix: get('prefix', ''),
  };
}

/** All payloads in one Buffer, so a million messages cost no V8 heap. */
interface Prepared {
  data: Buffer;
  offsets: Float64Array;
  channels: Buffer[];
  channelOf: Uint8Array;
  eventsOf: Uint8Array;
  events: number;
  tasks: number;
}

/** Plans in chunks so even millions of tasks never hold their event objects at once. */
function prepare(a: Args): Prepared {
  const CHUNK = 10_000;
  const channelNames: string[] = [];
  const parts: Buffer[] = [];
  const channelOf: number[] = [];
  const eventsOf: number[] = [];
  let events = 0;
  const t0 = Date.now() / 1000;
  for (let done = 0; done < a.tasks; done += CHUNK) {
    const n = Math.min(CHUNK, a.tasks - done);
    const rate = a.rate > 0 ? a.rate : 0;
    const plan = planTasks(n, { ...DEFAULT_WORKLOAD, taskNames: a.taskNames, lostRatio: a.lostRatio }, t0 + (done * 4) / (rate || 50_000), rate, done);
    for (const m of plan.messages) {
      let c = channelNames.indexOf(m.routingKey);
      if (c < 0) c = channelNames.push(m.routingKey) - 1;
      channelOf.push(c);
      eventsOf.push(m.events);
      parts.push(a.broker === 'redis' ? Buffer.from(redisEnvelope(m)) : amqpPublishFrames(m));
    }
    events += plan.events;
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const data = Buffer.allocUnsafe(total);
  const offsets = new Float64Array(parts.length + 1);
  let off = 0;
  parts.forEach((p, i) => {
    offsets[i] = off;
    p.copy(data, off);
    off += p.length;
  });
  offsets[parts.length] = off;
  const channels = channelNames.map((rk) => Buffer.from(a.broker === 'redis' ? `${a.prefix}/${a.db}.celeryev/${rk}` : rk));
  return { data, offsets, channels, channelOf: Uint8Array.from(channelOf), eventsOf: Uint8Array.from(eventsOf), events, tasks: a.tasks };
}

async function publishRedis(a: Args, p: Prepared): Promise<{ seconds: number; messages: number }> {
  const r = new Redis(a.url, { enableAutoPipelining: false });
  const n = p.offsets.length - 1;
  const started = performance.now();
  let i = 0;
  let sentEvents = 0;
  const CHUNK = a.rate > 0 ? 2000 : 500;
  while (i < n) {
    if (a.rate > 0) {
      const due = ((performance.now() - started) / 1000) * a.rate;
      if (sentEvents >= due) {
        await new Promise((res) => setTimeout(res, 1));
        continue;
      }
    }
    const pipe = r.pipeline();
    let k = 0;
    const limit = a.rate > 0 ? ((performance.now() - started) / 1000) * a.rate : Infinity;
    while (i < n && k < CHUNK && sentEvents < limit + 1) {
      pipe.publish(p.channels[p.channelOf[i]!]!, p.data.subarray(p.offsets[i]!, p.offsets[i + 1]!));
      sentEvents += p.eventsOf[i]!;
      i++;
      k++;
    }
    await pipe.exec();
  }
  const seconds = (performance.now() - started) / 1000;
  r.disconnect();
  return { seconds, messages: n };
}

/** Channel 1: the first channel amqplib opens on a connection, the one publishAmqp writes on. */
const PUBLISH_CHANNEL = 1;

function frame(type: number, payload: Buffer): Buffer {
  const f = Buffer.alloc(8 + payload.length);
  f[0] = type;
  f.writeUInt16BE(PUBLISH_CHANNEL, 1);
  f.writeUInt32BE(payload.length, 3);
  payload.copy(f, 7);
  f[7 + payload.length] = 0xce;
  return f;
}
const shortstr = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);

/**
 * basic.publish + header + body frames, as amqplib would encode ch.publish('celeryev', rk, body,
 * {contentType, contentEncoding, headers: {hostname}, deliveryMode: 1}) — encoded before the clock
 * starts, so a loaded machine paces the exporter rather than the generator's encoding (amqplib's
 * publish capped the generator at ~8k events/s on a busy 2-core box; Redis's pipeline did not).
 */
function amqpPublishFrames(m: { routingKey: string; body: string }): Buffer {
  const body = Buffer.from(m.body);
  const u16 = (v: number) => Buffer.from([v >> 8, v & 255]);
  const method = Buffer.concat([u16(60), u16(40), u16(0), shortstr('celeryev'), shortstr(m.routingKey), Buffer.from([0])]);
  const host = Buffer.from('celery@worker-0');
  const entry = Buffer.concat([shortstr('hostname'), Buffer.from('S'), Buffer.from([0, 0, 0, host.length]), host]);
  const size = Buffer.alloc(8);
  size.writeUInt32BE(body.length, 4);
  const table = Buffer.concat([Buffer.from([0, 0, 0, entry.length]), entry]);
  const header = Buffer.concat([u16(60), u16(0), size, u16(0xf000), shortstr('application/json'), shortstr('utf-8'), table, Buffer.from([1])]);
  return Buffer.concat([frame(1, method), frame(2, header), frame(3, body)]);
}

async function publishAmqp(a: Args, p: Prepared): Promise<{ seconds: number; messages: number }> {
  const amqp = await import('amqplib');
  const conn = await amqp.connect(a.url);
  const ch = await conn.createChannel();
  await ch.assertExchange('celeryev', 'topic', { durable: true, autoDelete: false });
  const chNo = (ch as unknown as { ch: number }).ch;
  if (chNo !== PUBLISH_CHANNEL) throw new Error(`expected channel ${PUBLISH_CHANNEL}, got ${chNo}`);
  const sock = (conn as unknown as { connection: { stream: NodeJS.WritableStream } }).connection.stream;
  const n = p.offsets.length - 1;
  const started = performance.now();
  let sentEvents = 0;
  let i = 0;
  while (i < n) {
    const limit = a.rate > 0 ? ((performance.now() - started) / 1000) * a.rate : Infinity;
    if (sentEvents >= limit) {
      await new Promise((res) => setTimeout(res, 1));
      continue;
    }
    // Whole frames only, so amqplib's heartbeats can go in between.
    const from = i;
    while (i < n && i - from < 2000 && sentEvents < limit + 1) sentEvents += p.eventsOf[i++]!;
    if (!sock.write(p.data.subarray(p.offsets[from]!, p.offsets[i]!))) await new Promise((res) => sock.once('drain', res));
  }
  const seconds = (performance.now() - started) / 1000;
  await ch.close();
  await conn.close();
  return { seconds, messages: n };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const p = prepare(a);
  process.stdout.write(`READY ${p.events} ${p.tasks} ${p.offsets.length - 1}\n`);
  const rl = createInterface({ input: process.stdin });
  await new Promise<void>((res) => rl.once('line', () => res()));
  rl.close();
  const r = a.broker === 'redis' ? await publishRedis(a, p) : await publishAmqp(a, p);
  process.stdout.write(`${JSON.stringify({ events: p.events, tasks: p.tasks, messages: r.messages, seconds: r.seconds, rate: p.events / r.seconds })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`generator failed: ${String(err)}\n`);
  process.exit(1);
});
