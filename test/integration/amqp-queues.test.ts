import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { hostname } from 'node:os';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { freePort } from '../helpers/ports.js';
import { parseMetrics, select, sum, value, waitFor, type Sample } from '../helpers/metrics.js';
import { createVhost, listQueues, rabbitmqctl, type TestVhost } from '../helpers/rabbitmq.js';

/**
 * Queue depth and consumers over RabbitMQ, with a real Celery producer and worker: first with
 * passive queue.declare (no plugin needed), then through the management API.
 */
const id = uid();
const PARKED = `parked-${id}`; // tasks no worker consumes
const WORKED = `worked-${id}`; // consumed by a worker
const MISSING = `missing-${id}`; // in --queues, never declared
const PRIO = `prio-${id}`; // x-max-priority 10

let vhost: TestVhost;
let worker: Worker | undefined;
const exporters: Exporter[] = [];

const scrape = async (e: Exporter) => parseMetrics(await e.metrics());
const start = async (args: string[]) => {
  const e = await startExporter(['--broker-url', vhost.url, '--queue-poll-interval', '1', ...args]);
  exporters.push(e);
  return e;
};
/** Broker-side queue series (the event-derived backlog ages live on while the queue is known). */
const BROKER_QUEUE_METRICS = ['celery_queue_length', 'celery_queue_length_by_priority', 'celery_active_consumer_count', 'celery_queue_unacked'];
const hasQueue = (s: Sample[], q: string) => s.some((x) => x.labels['queue_name'] === q && BROKER_QUEUE_METRICS.includes(x.name));

beforeAll(async () => {
  vhost = await createVhost('queues');
  // Parked before any exporter runs: only the broker knows about this queue.
  await sendWorkload(vhost.url, ['add', PARKED, '7']);
  worker = await startWorker({ brokerUrl: vhost.url, queues: [WORKED], name: `wq-${id}@${hostname()}` });
});

afterAll(async () => {
  await worker?.stop();
  for (const e of exporters) await e.stop();
  await vhost?.remove();
});

describe('RabbitMQ queue depth over AMQP (passive queue.declare)', () => {
  let exporter: Exporter;
  beforeAll(async () => {
    exporter = await start(['--queues', `${PARKED},${WORKED},${MISSING}`]);
  });

  it('reports ready messages and consumers of the configured queues', async () => {
    // A scrape can fall in the middle of a round: wait for the round that covered both.
    const s = await waitFor(
      () => scrape(exporter),
      (x) => [PARKED, WORKED].every((q) => select(x, 'celery_active_consumer_count', { queue_name: q }).length === 1),
      { what: 'the parked and worked queues' },
    );
    expect(value(s, 'celery_queue_length', { queue_name: PARKED })).toBe(7);
    expect(value(s, 'celery_active_consumer_count', { queue_name: PARKED })).toBe(0);
    expect(value(s, 'celery_queue_length', { queue_name: WORKED })).toBe(0);
    expect(value(s, 'celery_active_consumer_count', { queue_name: WORKED })).toBe(1);
    // Plain AMQP cannot see unacked messages, and RabbitMQ has no priority sub-queues.
    expect(select(s, 'celery_queue_unacked')).toHaveLength(0);
    expect(select(s, 'celery_queue_length_by_priority')).toHaveLength(0);
  });

  it('gives a queue that does not exist no series, and keeps polling the others', async () => {
    const s = await scrape(exporter);
    expect(hasQueue(s, MISSING)).toBe(false);
    expect(sum(s, 'celery_exporter_poll_errors_total', { poller: 'amqp_queues' })).toBe(0);
    expect(exporter.output()).toContain(`"queue":"${MISSING}","msg":"queue does not exist on the broker`);
    // Once a producer declares it, it is reported on the next round.
    await sendWorkload(vhost.url, ['add', MISSING, '2']);
    const later = await waitFor(() => scrape(exporter), (x) => select(x, 'celery_queue_length', { queue_name: MISSING })[0]?.value === 2, {
      what: 'the new queue',
    });
    expect(value(later, 'celery_queue_length', { queue_name: PARKED })).toBe(7);
    // 404s closed a channel each time; none of it is an error.
    expect(sum(later, 'celery_exporter_poll_errors_total', { poller: 'amqp_queues' })).toBe(0);
  });

  it('follows tasks into a queue it learned of from task-sent events, and drops a deleted queue', async () => {
    const extra = `seen-${id}`;
    await sendWorkload(vhost.url, ['add', extra, '3']);
    await waitFor(() => scrape(exporter), (x) => select(x, 'celery_queue_length', { queue_name: extra })[0]?.value === 3, {
      what: 'the queue named by task-sent',
    });
    await rabbitmqctl(['delete_queue', '-p', vhost.name, extra]);
    await waitFor(() => scrape(exporter), (x) => !hasQueue(x, extra), { what: 'the deleted queue’s series to go' });
  });

  it('reports the total of a priority queue (x-max-priority), without a per-priority split', async () => {
    const env = { QUEUE_MAX_PRIORITY: '10' };
    for (const [n, prio] of [
      ['2', '0'],
      ['3', '5'],
      ['4', '9'],
    ] as const) {
      await sendWorkload(vhost.url, ['add', PRIO, n, prio], {}, env);
    }
    expect((await listQueues(vhost.name, ['name', 'arguments'])).find((r) => r[0] === PRIO)?.[1]).toContain('x-max-priority');
    const s = await waitFor(() => scrape(exporter), (x) => select(x, 'celery_queue_length', { queue_name: PRIO })[0]?.value === 9, {
      what: 'the priority queue total',
    });
    expect(select(s, 'celery_queue_length_by_priority')).toHaveLength(0);
  });
});

describe('RabbitMQ queue depth through the management API', () => {
  const mgmtUrl = () => {
    const u = new URL(vhost.url.replace(/^amqp:/, 'http:'));
    return `http://${u.username}:${u.password}@${u.hostname}:15672`;
  };
  const SLOW = `slow-${id}`;
  let exporter: Exporter;
  let slowWorker: Worker | undefined;

  beforeAll(async () => {
    exporter = await start(['--rabbitmq-management-url', mgmtUrl(), '--queues', MISSING + '-never']);
  });
  afterAll(async () => {
    await slowWorker?.stop();
  });

  it('discovers every task queue of the vhost, leaving out Celery’s internal queues', async () => {
    // The broker has celeryev.<uuid> (ours), the worker's pidbox queue; none is reported.
    const onBroker = (await listQueues(vhost.name, ['name'])).map((r) => r[0]!);
    expect(onBroker.some((q) => q.startsWith('celeryev.'))).toBe(true);
    expect(onBroker.some((q) => q.endsWith('.celery.pidbox'))).toBe(true);
    const taskQueues = onBroker.filter((q) => !q.startsWith('celeryev.') && !q.endsWith('.pidbox')).sort();
    expect(taskQueues).toContain(PARKED);
    const names = (x: Sample[]) => select(x, 'celery_queue_length').map((q) => q.labels['queue_name']).sort();
    // A queue created in the last few seconds has no statistics in the API yet (and no series until it has).
    // The API's figures trail by its 5 s statistics interval, consumer counts included.
    const s = await waitFor(
      () => scrape(exporter),
      (x) => JSON.stringify(names(x)) === JSON.stringify(taskQueues) && select(x, 'celery_active_consumer_count', { queue_name: WORKED })[0]?.value === 1,
      { what: 'every task queue of the vhost, with the worker’s consumer' },
    );
    expect(value(s, 'celery_queue_length', { queue_name: PARKED })).toBe(7);
    expect(value(s, 'celery_active_consumer_count', { queue_name: PARKED })).toBe(0);
    expect(value(s, 'celery_queue_unacked', { queue_name: PARKED })).toBe(0);
    expect(value(s, 'celery_active_consumer_count', { queue_name: WORKED })).toBe(1);
    expect(names(s)).not.toContain(`${MISSING}-never`);
    expect(sum(s, 'celery_exporter_poll_errors_total', { poller: 'rabbitmq_management' })).toBe(0);
  });

  it('counts messages delivered to a worker and not acknowledged yet', async () => {
    slowWorker = await startWorker({ brokerUrl: vhost.url, queues: [SLOW], name: `ws-${id}@${hostname()}`, pool: 'solo', concurrency: 1 });
    for (let i = 0; i < 3; i++) await sendWorkload(vhost.url, ['sleep', SLOW, '4']);
    // One runs (its early ack may still be in flight), the others wait prefetched: 2 or 3 unacked, none ready.
    const busy = await waitFor(() => scrape(exporter), (x) => (select(x, 'celery_queue_unacked', { queue_name: SLOW })[0]?.value ?? 0) >= 2, {
      what: 'unacked messages',
    });
    expect(value(busy, 'celery_queue_length', { queue_name: SLOW })).toBe(0);
    expect(value(busy, 'celery_queue_unacked', { queue_name: SLOW })).toBeLessThanOrEqual(3);
    await waitFor(() => scrape(exporter), (x) => select(x, 'celery_queue_unacked', { queue_name: SLOW })[0]?.value === 0, {
      timeoutMs: 40_000,
      what: 'the worker to finish',
    });
  });

  it('exports the broker health of the vhost under broker="host:port/vhost"', async () => {
    const broker = `127.0.0.1:5672/${vhost.name}`;
    const s = await waitFor(() => scrape(exporter), (x) => (select(x, 'celery_broker_messages_published_total', { broker })[0]?.value ?? 0) > 0, {
      what: 'broker health',
    });
    // Our event connection plus the workers' connections.
    expect(value(s, 'celery_broker_connected_clients', { broker })).toBeGreaterThanOrEqual(2);
    expect(value(s, 'celery_broker_memory_used_bytes', { broker })).toBeGreaterThan(10e6);
    expect(value(s, 'celery_broker_uptime_seconds', { broker })).toBeGreaterThan(1);
    expect(value(s, 'celery_broker_messages_ready', { broker })).toBeGreaterThanOrEqual(7);
    expect(value(s, 'celery_broker_messages_unacked', { broker })).toBeGreaterThanOrEqual(0);
    expect(value(s, 'celery_broker_messages_delivered_total', { broker })).toBeGreaterThan(0);
    expect(select(s, 'celery_broker_evicted_keys_total')).toHaveLength(0);
  });

  it('keeps the queue metrics for a user with only the "management" tag, withholding broker health', async () => {
    const user = `cpe-mgmt-${id}`;
    await rabbitmqctl(['add_user', user, 'mgmt-only-pw']);
    try {
      await rabbitmqctl(['set_user_tags', user, 'management']);
      await rabbitmqctl(['set_permissions', '-p', vhost.name, user, '.*', '.*', '.*']);
      const e = await start(['--rabbitmq-management-url', `http://${user}:mgmt-only-pw@127.0.0.1:15672`]);
      const s = await waitFor(() => scrape(e), (x) => select(x, 'celery_queue_length', { queue_name: PARKED }).length === 1, {
        what: 'queue metrics for a management-only user',
      });
      expect(value(s, 'celery_queue_length', { queue_name: PARKED })).toBe(7);
      expect(select(s, 'celery_broker_connected_clients')).toHaveLength(0);
      expect(sum(s, 'celery_exporter_poll_errors_total', { poller: 'rabbitmq_management' })).toBe(0);
      expect(e.output()).toMatch(/refused \/api\/[a-z]+.*lacks the tag.*RabbitMQ broker health unavailable/);
      expect(e.output()).not.toContain('mgmt-only-pw');
    } finally {
      await rabbitmqctl(['delete_user', user]);
    }
  });

  it('gives a user with the "monitoring" tag the broker health view too', async () => {
    const user = `cpe-mon-${id}`;
    await rabbitmqctl(['add_user', user, 'mon-only-pw']);
    try {
      await rabbitmqctl(['set_user_tags', user, 'monitoring']);
      await rabbitmqctl(['set_permissions', '-p', vhost.name, user, '.*', '.*', '.*']);
      const e = await start(['--rabbitmq-management-url', `http://${user}:mon-only-pw@127.0.0.1:15672`]);
      const s = await waitFor(() => scrape(e), (x) => select(x, 'celery_broker_messages_ready').length === 1, {
        what: 'broker health for a monitoring user',
      });
      expect(select(s, 'celery_broker_connected_clients')).toHaveLength(1);
      expect(sum(s, 'celery_exporter_poll_errors_total', { poller: 'rabbitmq_management' })).toBe(0);
      expect(e.output()).not.toMatch(/broker health unavailable/);
    } finally {
      await rabbitmqctl(['delete_user', user]);
    }
  });

  it('says clearly, once, that the management API is unreachable, keeps the known queues from passive declares, and goes back to the API when it answers', async () => {
    const port = await freePort();
    const bad = await start(['--rabbitmq-management-url', `http://monitor:mgmt-s3cret@127.0.0.1:${port}`, '--queues', PARKED]);
    await waitFor(() => fetch(`${bad.url}/readyz`).then((r) => r.status), (st) => st === 200, { what: 'readyz' });
    const s = await waitFor(() => scrape(bad), (x) => select(x, 'celery_queue_length', { queue_name: PARKED }).length === 1, {
      what: 'the known queue from passive declares',
    });
    expect(value(s, 'celery_queue_length', { queue_name: PARKED })).toBe(7);
    expect(value(s, 'celery_active_consumer_count', { queue_name: PARKED })).toBe(0);
    expect(value(s, 'celery_exporter_rabbitmq_management_up')).toBe(0);
    // Only the API has these: withheld rather than wrong.
    expect(select(s, 'celery_queue_unacked')).toHaveLength(0);
    expect(select(s, 'celery_broker_connected_clients')).toHaveLength(0);
    expect(sum(s, 'celery_exporter_poll_errors_total', { poller: 'rabbitmq_management' })).toBe(0);
    // Several rounds later, still one line.
    await new Promise((r) => setTimeout(r, 3000));
    const lines = bad.output().split('\n').filter((l) => l.includes('management API'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/management API at http:\/\/monitor:\*\*\*\*@127\.0\.0\.1:\d+\/ is unreachable \(ECONNREFUSED\); is the rabbitmq_management plugin enabled/);
    expect(lines[0]).toContain('from passive queue.declare until it does');
    expect(bad.output()).not.toContain('mgmt-s3cret');
    expect(value(s, 'celery_exporter_broker_up')).toBe(1);

    // The API comes up on that port (a forwarder to the real one; guest credentials replace ours).
    const real = new URL(mgmtUrl());
    const auth = `Basic ${Buffer.from(`${real.username}:${real.password}`).toString('base64')}`;
    const api = createHttpServer((req, res) => {
      const up = httpRequest({ host: real.hostname, port: Number(real.port), path: req.url, method: req.method, headers: { ...req.headers, authorization: auth } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((resolve) => api.listen(port, '127.0.0.1', resolve));
    try {
      const back = await waitFor(() => scrape(bad), (x) => select(x, 'celery_queue_unacked', { queue_name: PARKED }).length === 1, {
        what: 'the API view back',
      });
      expect(value(back, 'celery_exporter_rabbitmq_management_up')).toBe(1);
      expect(value(back, 'celery_queue_length', { queue_name: PARKED })).toBe(7);
      expect(bad.output()).toMatch(/management API answers again/);
    } finally {
      await bad.stop();
      exporters.splice(exporters.indexOf(bad), 1);
      api.closeAllConnections();
      await new Promise((r) => api.close(r));
    }
  });

  it('takes the depth of known queues from passive declares: exact at once, while the API trails', async () => {
    const trail = `trail-${id}`;
    // Periodic rounds only (no on-demand polls): what this shows is the source, not the timing.
    const e = await startExporter(['--broker-url', vhost.url, '--rabbitmq-management-url', mgmtUrl(), '--queue-poll-interval', '2', '--queue-min-poll-interval', '0', '--queues', trail]);
    exporters.push(e);
    // The queue exists, empty, with statistics in the API (as Celery declares it: durable).
    const conn = await amqplib.connect(vhost.url);
    const ch = await conn.createChannel();
    await ch.assertQueue(trail, { durable: true });
    await conn.close();
    await waitFor(() => scrape(e), (x) => select(x, 'celery_queue_length', { queue_name: trail })[0]?.value === 0, { what: 'the empty queue' });
    // Three batches: after each, the first round that started once the batch was in the queue
    // must report it. The API's figures trail by its statistics interval (5 s): it said 0.
    const figures: string[] = [];
    for (let batch = 1; batch <= 3; batch++) {
      await sendWorkload(vhost.url, ['add', trail, '7']);
      const sentAt = Date.now() / 1000;
      const s = await waitFor(() => scrape(e), (x) => value(x, 'celery_exporter_poll_success_timestamp_seconds', { poller: 'rabbitmq_management' }) > sentAt, {
        what: 'a round after the batch',
        intervalMs: 50,
      });
      figures.push(String(value(s, 'celery_queue_length', { queue_name: trail })));
    }
    console.log(`rabbitmq depth source: first round after each batch of 7 reported ${figures.join(', ')} (want 7, 14, 21)`);
    expect(figures).toEqual(['7', '14', '21']);
    expect(value(await scrape(e), 'celery_exporter_rabbitmq_management_up')).toBe(1);
  });
});
