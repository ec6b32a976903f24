/**
 * The floor: the least a Node process can do with the stream — subscribe with the broker's usual
 * client (ioredis, or amqplib on an exclusive no-ack queue bound to celeryev with "#", as the
 * exporter's), decode the body with JSON.parse, count events. Run under the same load as the
 * exporter, it shows what the exporter's features cost on top of plain decoding.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';

const args = process.argv.slice(2);
const get = (k: string, d: string) => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 ? args[i + 1]! : d;
};
const url = get('broker-url', 'redis://127.0.0.1:6379/13');
let events = 0;
let ready = false;
const count = (body: unknown) => (events += Array.isArray(body) ? body.length : 1);

if (url.startsWith('amqp')) {
  const amqp = await import('amqplib');
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  await ch.assertExchange('celeryev', 'topic', { durable: true, autoDelete: false });
  const q = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false, arguments: { 'x-message-ttl': 5000 } });
  await ch.bindQueue(q.queue, 'celeryev', '#');
  await ch.consume(q.queue, (m) => m !== null && count(JSON.parse(m.content.toString('utf8'))), { noAck: true });
  ready = true;
} else {
  const db = Number(url.split('/').pop());
  const r = new Redis(url);
  r.on('pmessage', (_p: string, _c: string, message: string) => {
    const env = JSON.parse(message) as { body: string };
    count(JSON.parse(Buffer.from(env.body, 'base64').toString('utf8')));
  });
  void r.psubscribe(`/${db}.celeryev/*`).then(() => (ready = true));
}
createServer((req, res) => {
  if (req.url === '/readyz') {
    res.statusCode = ready ? 200 : 503;
    return res.end();
  }
  res.setHeader('Content-Type', 'text/plain');
  res.end(`celery_exporter_events_total ${events}\n`);
}).listen(Number(get('port', '0')), get('host', '127.0.0.1'));
process.on('SIGTERM', () => process.exit(0));
