import { execFile } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { amqpUrl } from '../helpers/brokers.js';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { parseMetrics, sum, value, waitFor, type Sample } from '../helpers/metrics.js';
import { CounterWatch, linesWithSecrets, logLines, strayLines } from '../helpers/monotonic.js';
import { createVhost, rabbitmqctl, type TestVhost } from '../helpers/rabbitmq.js';
import { freePort } from '../helpers/ports.js';

const run = promisify(execFile);

/**
 * Broker faults on RabbitMQ, in a vhost of this file's own with a password-protected user:
 * every connection of the vhost closed by the server, RabbitMQ restarted (stop_app/start_app on
 * the node, kept short: only on a node the suite may restart — AMQP_URL given or a container it
 * started — and not with CPE_SKIP_RABBITMQ_RESTART=1), RabbitMQ
 * unreachable at start, a host name that does not resolve, a wrong password.
 */
const id = uid();
const USER = `cpe-faults-${id}`;
const PASSWORD = `pw-${id}-s3cret`;
const WRONG = `wrong-${id}-s3cret`;
const Q = `fa-${id}`;
const W = `fwa-${id}@${hostname()}`;

let vhost: TestVhost;
let worker: Worker | undefined;
const exporters: Exporter[] = [];
const watches: CounterWatch[] = [];
const servers: Server[] = [];

const scrape = async (e: Exporter) => parseMetrics(await e.metrics());
const status = (e: Exporter, path: string) => fetch(`${e.url}${path}`).then((r) => r.status);
const reconnects = (s: Sample[], component: string) => value(s, 'celery_exporter_reconnects_total', { component });
const succeeded = (s: Sample[]) => sum(s, 'celery_task_succeeded_total', { hostname: W });
const msgs = (e: Exporter, re: RegExp) => logLines(e.output()).filter((l) => re.test(String(l['msg'])));
/** amqp://user:password@host:port/vhost for this file's user. */
const userUrl = (password = PASSWORD, hostPort?: string) => {
  const u = new URL(vhost.url);
  return `amqp://${USER}:${encodeURIComponent(password)}@${hostPort ?? u.host}${u.pathname}`;
};

async function start(args: string[]): Promise<Exporter> {
  const e = await startExporter(['--log-level', 'debug', ...args]);
  exporters.push(e);
  return e;
}

beforeAll(async () => {
  vhost = await createVhost('faults');
  await rabbitmqctl(['add_user', USER, PASSWORD]);
  await rabbitmqctl(['set_user_tags', USER, 'monitoring']);
  await rabbitmqctl(['set_permissions', '-p', vhost.name, USER, '.*', '.*', '.*']);
});

afterAll(async () => {
  for (const w of watches) w.stop();
  await worker?.stop();
  for (const e of exporters) await e.stop();
  for (const s of servers) s.close();
  await rabbitmqctl(['delete_user', USER]).catch(() => undefined);
  await vhost?.remove();
  for (const e of exporters) {
    expect(linesWithSecrets(e.output(), [PASSWORD, WRONG])).toEqual([]);
    // Every line is a log line of ours: no library printing errors to stderr on each retry.
    expect(strayLines(e.output())).toEqual([]);
  }
});

describe('RabbitMQ: connections closed by the server, RabbitMQ restarted', () => {
  let e: Exporter;
  let mgmt: Exporter;
  let counters: CounterWatch;
  let mgmtCounters: CounterWatch;

  beforeAll(async () => {
    worker = await startWorker({ brokerUrl: userUrl(), queues: [Q], name: W });
    e = await start(['--broker-url', userUrl(), '--queues', Q, '--queue-poll-interval', '1', '--inspect-poll-interval', '2', '--inspect-poll-timeout', '6']);
    // A second exporter reads queues through the management API, whose counters restart with RabbitMQ
    // (as guest: RabbitMQ 3.10 shows a vhost's message counters to administrators only).
    mgmt = await start([
      '--broker-url',
      userUrl(),
      '--rabbitmq-management-url',
      'http://guest:guest@127.0.0.1:15672',
      '--queue-poll-interval',
      '1',
      '--no-inspect-metrics',
      '--no-enable-events',
    ]);
    counters = new CounterWatch(() => e.metrics()).start();
    mgmtCounters = new CounterWatch(() => mgmt.metrics()).start();
    watches.push(counters, mgmtCounters);
    await waitFor(() => status(e, '/readyz'), (st) => st === 200, { what: 'readyz' });
    await sendWorkload(userUrl(), ['add', Q, '3']);
    await waitFor(() => scrape(e), (s) => succeeded(s) === 3 && sum(s, 'celery_worker_pool_max_concurrency') > 0, { timeoutMs: 45_000, what: 'first tasks and an inspect round' });
  });

  it('reconnects events, queue poller and remote control after close_all_connections, counting each once', async () => {
    const before = await scrape(e);
    for (const c of ['events', 'queues', 'control']) expect(reconnects(before, c)).toBe(0);
    const linesBefore = msgs(e, /^broker not ready/).length;
    await vhost.closeConnections('cpe faults: server-side close');
    const after = await waitFor(
      () => scrape(e),
      (s) => reconnects(s, 'events') === 1 && reconnects(s, 'queues') === 1 && reconnects(s, 'control') === 1 && value(s, 'celery_exporter_broker_up') === 1,
      { timeoutMs: 45_000, what: 'every component back' },
    );
    expect(succeeded(after)).toBe(3);
    const down = msgs(e, /^broker not ready/).slice(linesBefore);
    expect(down).toHaveLength(1);
    expect(down[0]!['msg']).toMatch(/CONNECTION_FORCED - cpe faults: server-side close/);

    await sendWorkload(userUrl(), ['add', Q, '2']);
    const s = await waitFor(() => scrape(e), (x) => succeeded(x) === 5, { timeoutMs: 45_000, what: 'tasks after the close' });
    expect(sum(s, 'celery_task_sent_total', { queue_name: Q })).toBe(5);
    // The management exporter was closed too and came back.
    await waitFor(() => scrape(mgmt), (x) => reconnects(x, 'events') === 1 && value(x, 'celery_exporter_broker_up') === 1, { what: 'the management exporter back' });
  });

  it.skipIf(!inject('amqpOwned') || process.env['CPE_SKIP_RABBITMQ_RESTART'] === '1')(
    'survives a RabbitMQ restart: not ready meanwhile, one line each way, exact counts, broker counters kept monotonic',
    async () => {
      const linesBefore = msgs(e, /^broker not ready/).length;
      const before = await scrape(e);
      const published = (s: Sample[]) => sum(s, 'celery_broker_messages_published_total');
      const publishedBefore = await waitFor(() => scrape(mgmt), (x) => published(x) > 0, { what: 'management counters' }).then(published);
      try {
        await rabbitmqctl(['stop_app']);
        await waitFor(() => status(e, '/readyz'), (st) => st === 503, { timeoutMs: 10_000, what: 'readyz 503' });
        expect(value(await scrape(e), 'celery_exporter_broker_up')).toBe(0);
        expect(await status(e, '/healthz')).toBe(200);
        await new Promise((r) => setTimeout(r, 3000));
      } finally {
        await rabbitmqctl(['start_app']);
        await run('rabbitmqctl', ['-q', 'await_startup', '--timeout', '120']);
      }
      const back = await waitFor(
        () => scrape(e),
        (s) => value(s, 'celery_exporter_broker_up') === 1 && reconnects(s, 'queues') === 2 && reconnects(s, 'control') === 2,
        { timeoutMs: 60_000, what: 'recovery after the restart' },
      );
      expect(reconnects(back, 'events')).toBe(2);
      const down = msgs(e, /^broker not ready/).slice(linesBefore);
      expect(down).toHaveLength(1);
      expect(String(msgs(e, /^broker ready/).pop()?.['msg'])).toMatch(/; down \d+\.\d s, \d+ failed attempts?, last: /);
      expect(value(back, 'celery_exporter_poll_errors_total', { poller: 'amqp_queues' })).toBeGreaterThan(value(before, 'celery_exporter_poll_errors_total', { poller: 'amqp_queues' }));

      await sendWorkload(userUrl(), ['add', Q, '4']);
      const s = await waitFor(() => scrape(e), (x) => succeeded(x) === 9, { timeoutMs: 60_000, what: 'tasks after the restart' });
      expect(sum(s, 'celery_task_sent_total', { queue_name: Q })).toBe(9);
      expect(value(s, 'celery_exporter_events_total', { type: 'task-succeeded' })).toBe(9);
      await waitFor(() => scrape(e), (x) => sum(x, 'celery_queue_length', { queue_name: Q }) === 0, { what: 'queue series back' });

      // RabbitMQ's own message counter restarted at 0; ours goes on from where it was.
      const m = await waitFor(() => scrape(mgmt), (x) => published(x) > publishedBefore && value(x, 'celery_exporter_broker_up') === 1, {
        timeoutMs: 60_000,
        what: 'management counters past their value before the restart',
      });
      expect(reconnects(m, 'events')).toBe(2);
      expect(counters.violations).toEqual([]);
      expect(mgmtCounters.violations).toEqual([]);
    },
  );

  it('kept every counter monotonic throughout', () => {
    expect(counters.scrapes).toBeGreaterThan(5);
    expect(counters.violations).toEqual([]);
    expect(mgmtCounters.violations).toEqual([]);
  });
});

describe('RabbitMQ unreachable, unresolvable, or refusing the password', () => {
  it('waits for a broker that is not there at start, and is ready once it is', async () => {
    const port = await freePort();
    const e = await start(['--broker-url', userUrl(PASSWORD, `127.0.0.1:${port}`), '--queues', Q, '--queue-poll-interval', '1', '--inspect-poll-interval', '1']);
    await waitFor(() => Promise.resolve(msgs(e, /^broker not ready/).length), (n) => n === 1, { what: 'the not-ready line' });
    expect(msgs(e, /^broker not ready/)[0]!['msg']).toMatch(new RegExp(`connection refused by 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
    await new Promise((r) => setTimeout(r, 4000));
    expect(msgs(e, /^broker not ready/)).toHaveLength(1);
    expect(await status(e, '/readyz')).toBe(503);
    const s = await scrape(e);
    expect(value(s, 'celery_exporter_broker_up')).toBe(0);
    // The broker line says it once; the queue poller's failures are counted and logged at debug only.
    const failures = msgs(e, /^poll failed/).filter((l) => l['poller'] === 'amqp_queues');
    expect(failures.filter((l) => /^poll failed;/.test(String(l['msg'])))).toHaveLength(0);
    expect(value(s, 'celery_exporter_poll_errors_total', { poller: 'amqp_queues' })).toBeGreaterThan(2);
    // It backs off instead of dialling every round (interval 1 s): rounds inside the backoff fail without a connection attempt.
    const dialled = failures.filter((l) => !/next connection attempt in/.test(String(l['err'])));
    expect(failures.length - dialled.length).toBeGreaterThan(0);

    // The broker appears (a plain TCP relay to RabbitMQ on that port).
    servers.push(await relay(port, Number(new URL(vhost.url).port || 5672)));
    const up = await waitFor(() => scrape(e), (x) => value(x, 'celery_exporter_broker_up') === 1 && x.some((v) => v.name === 'celery_queue_length'), {
      timeoutMs: 45_000,
      what: 'ready once the broker is there',
    });
    expect(reconnects(up, 'events')).toBe(0);
    expect(await status(e, '/readyz')).toBe(200);
  });

  it('keeps trying a host name that does not resolve, saying so once', async () => {
    const e = await start(['--broker-url', userUrl(PASSWORD, `cpe-no-such-host-${id}.invalid:5672`)]);
    await waitFor(() => Promise.resolve(msgs(e, /^broker not ready/).length), (n) => n === 1, { what: 'the not-ready line' });
    expect(msgs(e, /^broker not ready/)[0]!['msg']).toBe(`broker not ready: connect failed: cannot resolve host name "cpe-no-such-host-${id}.invalid" (ENOTFOUND): DNS lookup failed`);
    await new Promise((r) => setTimeout(r, 3000));
    expect(msgs(e, /^reconnecting to RabbitMQ/).length).toBeGreaterThanOrEqual(2);
    expect(msgs(e, /^broker not ready/)).toHaveLength(1);
    expect(await status(e, '/readyz')).toBe(503);
  });

  it('names a refused login without printing the password', async () => {
    const e = await start(['--broker-url', userUrl(WRONG), '--queues', Q, '--queue-poll-interval', '1']);
    await waitFor(() => Promise.resolve(msgs(e, /^broker not ready/).length), (n) => n === 1, { what: 'the not-ready line' });
    expect(msgs(e, /^broker not ready/)[0]!['msg']).toMatch(/ACCESS_REFUSED/);
    await new Promise((r) => setTimeout(r, 3000));
    expect(msgs(e, /^broker not ready/)).toHaveLength(1);
    expect(await status(e, '/readyz')).toBe(503);
    expect(msgs(e, /^poll failed;/)).toHaveLength(0);
    expect(String(msgs(e, /^poll failed/).find((l) => l['poller'] === 'amqp_queues')?.['err'])).toMatch(/ACCESS_REFUSED/);
  });
});

/** A TCP relay on `port` to RabbitMQ: the broker "appears" on a port where nothing listened. */
function relay(port: number, target: number): Promise<Server> {
  const server = createServer((client: Socket) => {
    const upstream = connect(target, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}
