/**
 * The floor: the least a Node process can do with the stream — subscribe with ioredis, decode
 * the envelope and the body with JSON.parse, count events. Run under the same load as the
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
const db = Number(url.split('/').pop());
let events = 0;
const r = new Redis(url);
r.on('pmessage', (_p: string, _c: string, message: string) => {
  const env = JSON.parse(message) as { body: string };
  const body = JSON.parse(Buffer.from(env.body, 'base64').toString('utf8')) as unknown;
  events += Array.isArray(body) ? body.length : 1;
});
let ready = false;
void r.psubscribe(`/${db}.celeryev/*`).then(() => (ready = true));
createServer((req, res) => {
  if (req.url === '/readyz') {
    res.statusCode = ready ? 200 : 503;
    return res.end();
  }
  res.setHeader('Content-Type', 'text/plain');
  res.end(`celery_exporter_events_total ${events}\n`);
}).listen(Number(get('port', '0')), get('host', '127.0.0.1'));
process.on('SIGTERM', () => process.exit(0));
