import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { amqpUrl } from '../helpers/brokers.js';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { parseMetrics, sum, value, waitFor, type Sample } from '../helpers/metrics.js';
import { createVhost, listQueues, rabbitmqctl, type TestVhost } from '../helpers/rabbitmq.js';
import { startProxy, type Proxy } from '../helpers/blackhole-proxy.js';

/**
 * The AMQP connection's life: vhosts, TLS, a silent peer, a server-side close and a vhost that
 * disappears, with a real Celery worker producing events throughout.
 */
const id = uid();
const QA = `qa-${id}`;
const W = `wc-${id}@${hostname()}`;

let vhost: TestVhost;
let worker: Worker | undefined;
const exporters: Exporter[] = [];
const proxies: Proxy[] = [];

const scrape = async (e: Exporter) => parseMetrics(await e.metrics());
const readyz = (e: Exporter) => fetch(`${e.url}/readyz`).then((r) => r.status);
const start = async (args: string[]) => {
  const e = await startExporter(args);
  exporters.push(e);
  return e;
};
const succeeded = (s: Sample[]) => sum(s, 'celery_task_succeeded_total', { hostname: W });
/** The queue name the exporter logged when it became ready (the last one). */
const eventQueue = (e: Exporter) => [...e.output().matchAll(/consuming (celeryev\.[0-9a-f-]+)/g)].pop()?.[1];

beforeAll(async () => {
  vhost = await createVhost('conn');
  worker = await startWorker({ brokerUrl: vhost.url, queues: [QA], name: W });
});

afterAll(async () => {
  await worker?.stop();
  for (const e of exporters) await e.stop();
  for (const p of proxies) await p.close();
  await vhost?.remove();
});

describe('RabbitMQ vhosts', () => {
  // Declares queues (and the celeryev exchange if missing) in vhost "/": only on a node the suite
  // was pointed at with AMQP_URL or started itself, never on a shared one by default.
  it.skipIf(!inject('amqpOwned'))('uses the default vhost "/" for amqp://host// and amqp://host/%2F, with our queue flags and TTLs', async () => {
    const encoded = amqpUrl('/'); // …:5672/%2F
    const slashes = encoded.replace(/%2F$/, '/'); // …:5672//
    for (const [url, args, ttl, expires] of [
      [slashes, [], '5000', '60000'],
      [encoded, ['--event-queue-ttl', '2', '--event-queue-expires', '30'], '2000', '30000'],
    ] as const) {
      const e = await start(['--broker-url', url, ...args]);
      await waitFor(() => readyz(e), (st) => st === 200, { what: 'readyz on /' });
      const q = eventQueue(e)!;
      const row = (await listQueues('/', ['name', 'exclusive', 'auto_delete', 'durable', 'arguments'])).find((r) => r[0] === q);
      expect(row?.slice(1, 4)).toEqual(['true', 'true', 'false']);
      expect(row?.[4]).toContain(`{"x-message-ttl",${ttl}}`);
      expect(row?.[4]).toContain(`{"x-expires",${expires}}`);
      await e.stop();
      // Exclusive: the broker deletes it with our connection.
      await waitFor(() => listQueues('/', ['name']), (rows) => !rows.some((r) => r[0] === q), { what: 'our queue to go' });
    }
  });

  it('refuses to become ready on a vhost it may not use, saying why', async () => {
    const e = await start(['--broker-url', amqpUrl(`no-such-vhost-${id}`)]);
    await waitFor(() => Promise.resolve(e.output()), (o) => o.includes('broker not ready'), { what: 'the not-ready line' });
    expect(await readyz(e)).toBe(503);
    expect(e.output()).toContain(`broker not ready: connect failed: RabbitMQ refused vhost \\"no-such-vhost-${id}\\" (NOT_ALLOWED: it does not exist, or the user has no permissions on it)`);
    await e.stop();
  });
});

describe('amqps:// through a TLS endpoint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cpe-amqps-'));
  const p = (f: string) => join(dir, f);
  let tlsUrl: string;

  beforeAll(async () => {
    const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    writeFileSync(p('san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=cpe-test-ca']);
    for (const who of ['server', 'client']) {
      ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who === 'server' ? 'localhost' : 'cpe-client'}`]);
      ssl(['x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '2', '-extfile', 'san.cnf']);
    }
    const proxy = await startProxy(
      { host: '127.0.0.1', port: Number(new URL(vhost.url).port || 5672) },
      {
        key: readFileSync(p('server.key')),
        cert: readFileSync(p('server.pem')),
        ca: readFileSync(p('ca.pem')),
        requestCert: true, // the broker side demands our client certificate
        rejectUnauthorized: true,
      },
    );
    proxies.push(proxy);
    tlsUrl = vhost.url.replace(/^amqp:\/\/([^@]*)@[^/]+/, `amqps://$1@127.0.0.1:${proxy.port}`);
  });

  it('connects with the CA, client certificate and key flags, and receives events', async () => {
    const e = await start([
      '--broker-url',
      tlsUrl,
      '--broker-ssl-ca-certs',
      p('ca.pem'),
      '--broker-ssl-certfile',
      p('client.pem'),
      '--broker-ssl-keyfile',
      p('client.key'),
    ]);
    await waitFor(() => readyz(e), (st) => st === 200, { what: 'readyz over TLS' });
    await sendWorkload(vhost.url, ['add', QA, '2']);
    const s = await waitFor(() => scrape(e), (x) => succeeded(x) === 2, { what: 'events over TLS' });
    expect(value(s, 'celery_exporter_build_info', { transport: 'amqp' })).toBe(1);
  });

  it('refuses a broker certificate it cannot verify, and a TLS endpoint without the client certificate', async () => {
    const noCa = await start(['--broker-url', tlsUrl]);
    const noCert = await start(['--broker-url', tlsUrl, '--broker-ssl-ca-certs', p('ca.pem')]);
    await waitFor(() => Promise.resolve(noCa.output()), (o) => o.includes('broker not ready'), { what: 'the TLS failure' });
    await waitFor(() => Promise.resolve(noCert.output()), (o) => o.includes('broker not ready'), { what: 'the missing client cert' });
    expect(noCa.output()).toMatch(/broker not ready: connect failed: .*certificate/);
    expect(await readyz(noCa)).toBe(503);
    expect(await readyz(noCert)).toBe(503);
  });
});

describe('RabbitMQ connection loss', () => {
  it('notices a silent peer through AMQP heartbeats, then reconnects', async () => {
    const proxy = await startProxy({ host: '127.0.0.1', port: Number(new URL(vhost.url).port || 5672) });
    proxies.push(proxy);
    const url = vhost.url.replace(/@[^/]+/, `@127.0.0.1:${proxy.port}`);
    const e = await start(['--broker-url', url, '--amqp-heartbeat', '1']);
    await waitFor(() => readyz(e), (st) => st === 200, { what: 'readyz through the proxy' });
    proxy.setBlackhole(true);
    const silentAt = Date.now();
    await waitFor(() => scrape(e), (s) => value(s, 'celery_exporter_broker_up') === 0, { timeoutMs: 15_000, what: 'broker_up 0' });
    // Two missed heartbeats at 1 s, not the TCP timeout of minutes.
    expect(Date.now() - silentAt).toBeLessThan(8000);
    expect(e.output()).toMatch(/broker not ready: connection error: Heartbeat timeout/);
    proxy.setBlackhole(false);
    const back = await waitFor(() => scrape(e), (s) => value(s, 'celery_exporter_broker_up') === 1, { timeoutMs: 45_000, what: 'reconnect' });
    expect(value(back, 'celery_exporter_reconnects_total', { component: 'events' })).toBe(1);
  });

  it('keeps counting after RabbitMQ closes every connection of the vhost; counters never reset', async () => {
    const e = await start(['--broker-url', vhost.url, '--queues', QA, '--queue-poll-interval', '1']);
    await waitFor(() => readyz(e), (st) => st === 200, { what: 'readyz' });
    await sendWorkload(vhost.url, ['add', QA, '3']);
    const before = await waitFor(() => scrape(e), (s) => succeeded(s) === 3 && value(s, 'celery_queue_length', { queue_name: QA }) === 0, {
      what: 'first tasks',
    });
    expect(value(before, 'celery_exporter_reconnects_total', { component: 'events' })).toBe(0);
    expect(value(before, 'celery_exporter_reconnects_total', { component: 'queues' })).toBe(0);

    await vhost.closeConnections('cpe test: server-side close');
    const after = await waitFor(
      () => scrape(e),
      (s) =>
        value(s, 'celery_exporter_broker_up') === 1 &&
        value(s, 'celery_exporter_reconnects_total', { component: 'events' }) === 1 &&
        value(s, 'celery_exporter_reconnects_total', { component: 'queues' }) === 1,
      { what: 'both connections back' },
    );
    expect(succeeded(after)).toBe(3);
    expect(e.output()).toMatch(/broker not ready: connection (closed|error): .*CONNECTION_FORCED - cpe test: server-side close/);
    expect(await readyz(e)).toBe(200);

    // The worker reconnects by itself; the new tasks add to the old counts.
    await sendWorkload(vhost.url, ['add', QA, '4']);
    const s = await waitFor(() => scrape(e), (x) => succeeded(x) === 7, { what: 'the tasks after the reconnect' });
    expect(sum(s, 'celery_task_sent_total', { queue_name: QA })).toBe(7);
    expect(value(s, 'celery_exporter_events_total', { type: 'task-succeeded' })).toBe(7);
    expect(value(s, 'celery_queue_length', { queue_name: QA })).toBe(0);
    expect(sum(s, 'celery_exporter_events_invalid_total')).toBe(0);
  });

  it('is not ready while its vhost is gone, and recovers with backoff when it is back', async () => {
    await worker?.stop();
    worker = undefined;
    const e = exporters[exporters.length - 1]!;
    await rabbitmqctl(['delete_vhost', vhost.name]);
    await waitFor(() => readyz(e), (st) => st === 503, { what: 'readyz 503' });
    expect(value(await scrape(e), 'celery_exporter_broker_up')).toBe(0);
    await new Promise((r) => setTimeout(r, 3000)); // a few failed attempts
    expect(await readyz(e)).toBe(503);
    await rabbitmqctl(['add_vhost', vhost.name]);
    await rabbitmqctl(['set_permissions', '-p', vhost.name, 'guest', '.*', '.*', '.*']);
    await waitFor(() => readyz(e), (st) => st === 200, { timeoutMs: 45_000, what: 'readyz 200 again' });
    const s = await scrape(e);
    expect(value(s, 'celery_exporter_reconnects_total', { component: 'events' })).toBe(2);
    expect(succeeded(s)).toBe(7);
    // The failed attempts in between logged one line, not one per attempt.
    expect(e.output().split('\n').filter((l) => l.includes('broker not ready')).length).toBe(2);
  });
});
