import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { parseMetrics, sum, value, waitFor, type Sample } from '../helpers/metrics.js';
import { CounterWatch, linesWithSecrets, logLines, strayLines } from '../helpers/monotonic.js';
import { freePort } from '../helpers/ports.js';
import { clientList, OwnRedis, type OwnRedisOptions } from '../helpers/redis-server.js';

/**
 * Broker faults on Redis, each against a redis-server of this file's own (password protected,
 * on a free port), which the tests kill, restart and reconfigure: connections killed from the
 * server side, a Redis restart, a subscriber dropped for overflowing its output buffer, Redis
 * unreachable at start, a host name that does not resolve, wrong and missing passwords. The
 * exporter must stay up, say what happened once per state change, reconnect with backoff, count
 * each recovery per component and keep every counter monotonic and exact.
 */
const id = uid();
const PASSWORD = `pw-${id}-s3cret`;
const WRONG = `wrong-${id}-s3cret`;
const Q = `fq-${id}`;
const W = `fw-${id}@${hostname()}`;

const servers: OwnRedis[] = [];
const exporters: Exporter[] = [];
const watches: CounterWatch[] = [];
let worker: Worker | undefined;

const scrape = async (e: Exporter) => parseMetrics(await e.metrics());
const status = (e: Exporter, path: string) => fetch(`${e.url}${path}`).then((r) => r.status);
const reconnects = (s: Sample[], component: string) => value(s, 'celery_exporter_reconnects_total', { component });
const succeeded = (s: Sample[]) => sum(s, 'celery_task_succeeded_total', { hostname: W });
const msgs = (e: Exporter, re: RegExp) => logLines(e.output()).filter((l) => re.test(String(l['msg'])));

async function start(args: string[]): Promise<Exporter> {
  const e = await startExporter(['--log-level', 'debug', ...args]);
  exporters.push(e);
  return e;
}

function watch(e: Exporter): CounterWatch {
  const w = new CounterWatch(() => e.metrics()).start();
  watches.push(w);
  return w;
}

async function server(opts: OwnRedisOptions = {}): Promise<OwnRedis> {
  const s = await OwnRedis.start({ password: PASSWORD, ...opts });
  servers.push(s);
  return s;
}

afterAll(async () => {
  for (const w of watches) w.stop();
  await worker?.stop();
  for (const e of exporters) await e.stop();
  for (const s of servers) await s.stop();
  // Whatever happened, no log line of any exporter of this file carries a password.
  for (const e of exporters) {
    expect(linesWithSecrets(e.output(), [PASSWORD, WRONG])).toEqual([]);
    // Every line is a log line of ours: no library printing errors to stderr on each retry.
    expect(strayLines(e.output())).toEqual([]);
  }
});

describe('Redis: connections killed, Redis restarted', () => {
  let redis: OwnRedis;
  let e: Exporter;
  let counters: CounterWatch;

  beforeAll(async () => {
    redis = await server();
    worker = await startWorker({ brokerUrl: redis.url(0), queues: [Q], name: W });
    e = await start(['--broker-url', redis.url(0), '--queues', Q, '--queue-poll-interval', '1', '--inspect-poll-interval', '1', '--inspect-poll-timeout', '5']);
    counters = watch(e);
    await waitFor(() => status(e, '/readyz'), (st) => st === 200, { what: 'readyz' });
    await sendWorkload(redis.url(0), ['add', Q, '3']);
    await waitFor(() => scrape(e), (s) => succeeded(s) === 3 && sum(s, 'celery_worker_pool_max_concurrency') > 0, { what: 'first tasks and an inspect round' });
  });

  it('reconnects every connection CLIENT KILL closes, the event subscription at once, and counts each per component', async () => {
    const before = await scrape(e);
    for (const c of ['events', 'queues', 'control']) expect(reconnects(before, c)).toBe(0);
    const admin = redis.client();
    const ours = (await clientList(admin)).filter((c) => c['name']?.startsWith('celery-exporter:'));
    expect(new Set(ours.map((c) => c['name']))).toEqual(new Set(['celery-exporter:events', 'celery-exporter:queues', 'celery-exporter:control', 'celery-exporter:control-reply']));
    const killedAt = Date.now();
    for (const c of ours) await admin.call('CLIENT', 'KILL', 'ID', c['id']!);

    const after = await waitFor(
      () => scrape(e),
      (s) => reconnects(s, 'events') === 1 && reconnects(s, 'queues') === 1 && reconnects(s, 'control') === 1 && value(s, 'celery_exporter_broker_up') === 1,
      { what: 'every component back' },
    );
    // The subscription came back at once (no backoff for a healthy subscription the server closed).
    const ready = msgs(e, /^broker ready/).pop()!;
    expect(ready['msg']).toMatch(/Redis stayed up \(same run_id\) and the exporter was not behind: closed by CLIENT KILL/);
    expect(Number(/down (\d+\.\d) s, 0 failed attempts/.exec(String(ready['msg']))?.[1])).toBeLessThan(1);
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    // Not behind: nothing was lost, nothing counted as lost.
    expect(value(after, 'celery_exporter_events_dropped_suspected_total')).toBe(0);
    expect(msgs(e, /^broker not ready/)).toHaveLength(1);

    await sendWorkload(redis.url(0), ['add', Q, '2']);
    const s = await waitFor(() => scrape(e), (x) => succeeded(x) === 5, { what: 'tasks after the kill' });
    expect(sum(s, 'celery_task_sent_total', { queue_name: Q })).toBe(5);
  });

  it('survives a Redis restart: not ready meanwhile, one line each way, backoff, then exact counts', async () => {
    const linesBefore = msgs(e, /^broker not ready/).length;
    const debugBefore = msgs(e, /^reconnecting the event subscriber/).length;
    const before = await scrape(e);
    await redis.shutdown();
    await waitFor(() => status(e, '/readyz'), (st) => st === 503, { timeoutMs: 10_000, what: 'readyz 503' });
    const down = await scrape(e);
    expect(value(down, 'celery_exporter_broker_up')).toBe(0);
    expect(await status(e, '/healthz')).toBe(200);
    await new Promise((r) => setTimeout(r, 6000)); // several failed attempts, with backoff
    expect(await status(e, '/readyz')).toBe(503);
    const polls = await scrape(e);
    expect(value(polls, 'celery_exporter_poll_errors_total', { poller: 'redis_queues' })).toBeGreaterThan(value(before, 'celery_exporter_poll_errors_total', { poller: 'redis_queues' }));

    await redis.spawn();
    const back = await waitFor(() => scrape(e), (s) => value(s, 'celery_exporter_broker_up') === 1 && reconnects(s, 'queues') >= 2 && reconnects(s, 'control') >= 2, {
      timeoutMs: 45_000,
      what: 'recovery after the restart',
    });
    expect(reconnects(back, 'events')).toBe(2);
    expect(await status(e, '/readyz')).toBe(200);

    // One line down, one line up, however many attempts failed in between.
    const notReady = msgs(e, /^broker not ready/).slice(linesBefore);
    expect(notReady).toHaveLength(1);
    expect(notReady[0]!['msg']).toMatch(/Redis closed the connection|connection refused/);
    const ready = msgs(e, /^broker ready/).pop()!;
    expect(ready['msg']).toMatch(/Redis restarted meanwhile \(new run_id\); down \d+\.\d s, \d+ failed attempts, last: connection refused by 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    const attempts = msgs(e, /^reconnecting the event subscriber/).slice(debugBefore);
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    // Capped exponential backoff with jitter: attempt n waits between half and all of 0.5 s × 2^(n-1).
    for (const a of attempts) {
      const n = Number(a['attempt']);
      const d = Number(a['delayMs']);
      if (d === 0) continue; // the one immediate retry after the server closed a healthy subscription
      const ceiling = Math.min(30_000, 500 * 2 ** (n - 1));
      expect(d).toBeGreaterThanOrEqual(ceiling / 2 - 1);
      expect(d).toBeLessThanOrEqual(ceiling + 1);
    }
    // The pollers stay quiet: the broker's two lines tell the outage (their failures are counted).
    expect(msgs(e, /^poll failed; its series are withheld/)).toHaveLength(0);
    expect(msgs(e, /^poll succeeded again/).filter((l) => l['level'] === 'info')).toHaveLength(0);

    // The worker reconnects by itself; counts go on from where they were, exactly.
    await sendWorkload(redis.url(0), ['add', Q, '4']);
    const s = await waitFor(() => scrape(e), (x) => succeeded(x) === 9, { timeoutMs: 60_000, what: 'tasks after the restart' });
    expect(sum(s, 'celery_task_sent_total', { queue_name: Q })).toBe(9);
    expect(value(s, 'celery_exporter_events_total', { type: 'task-succeeded' })).toBe(9);
    expect(value(s, 'celery_exporter_events_dropped_suspected_total')).toBe(0);
    await waitFor(() => scrape(e), (x) => sum(x, 'celery_queue_length', { queue_name: Q }) === 0 && sum(x, 'celery_broker_uptime_seconds') > 0, { what: 'queue series back' });
    expect(counters.scrapes).toBeGreaterThan(20);
    expect(counters.violations).toEqual([]);
  });
});

describe('Redis drops a subscriber whose output buffer overflows', () => {
  it('reconnects at once, counts celery_exporter_events_dropped_suspected_total and says why', async () => {
    const redis = await server();
    const e = await start(['--broker-url', redis.url(0), '--no-inspect-metrics', '--no-enable-events']);
    const counters = watch(e);
    await waitFor(() => status(e, '/readyz'), (st) => st === 200, { what: 'readyz' });
    const pub = redis.client();
    const heartbeats = (s: Sample[]) => value(s, 'celery_exporter_events_total', { type: 'worker-heartbeat' });
    await publishHeartbeats(pub, 200);
    await waitFor(() => scrape(e), (s) => heartbeats(s) === 200, { what: 'the first 200 events' });

    // This server only: a subscriber more than 512 KiB behind is dropped.
    await pub.call('CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 524288 0 0');
    const pid = e.proc.pid!;
    process.kill(pid, 'SIGSTOP');
    let published = 0;
    try {
      const admin = redis.client();
      const subscribed = async () => (await clientList(admin, 'pubsub')).some((c) => c['name'] === 'celery-exporter:events');
      expect(await subscribed()).toBe(true);
      while (published < 40_000 && (await subscribed())) {
        await publishHeartbeats(pub, 2000);
        published += 2000;
      }
      expect(await subscribed()).toBe(false); // Redis closed it
      await new Promise((r) => setTimeout(r, 2500)); // the events still in the socket buffers age
    } finally {
      process.kill(pid, 'SIGCONT');
    }

    const after = await waitFor(
      () => scrape(e),
      (s) => value(s, 'celery_exporter_events_dropped_suspected_total') === 1 && value(s, 'celery_exporter_broker_up') === 1,
      { what: 'the drop counted and the subscription back' },
    );
    expect(reconnects(after, 'events')).toBe(1);
    const warn = msgs(e, /^events lost: Redis dropped the event subscription while the exporter was behind/);
    expect(warn).toHaveLength(1);
    expect(warn[0]!['msg']).toMatch(/most likely its pub\/sub output buffer passed client-output-buffer-limit pubsub/);
    expect(String(warn[0]!['evidence'])).toMatch(/full socket reads|event lag had grown/);
    expect(String(warn[0]!['evidence'])).toMatch(/Redis stayed up \(same run_id\)/);
    const ready = msgs(e, /^broker ready/).pop()!;
    expect(Number(/down (\d+\.\d) s/.exec(String(ready['msg']))?.[1])).toBeLessThan(1);

    // Counting goes on; what Redis dropped is missing, and nothing is counted twice.
    const seen = heartbeats(after);
    expect(seen).toBeGreaterThanOrEqual(200);
    expect(seen).toBeLessThan(200 + published);
    await publishHeartbeats(pub, 300);
    const s = await waitFor(() => scrape(e), (x) => heartbeats(x) === seen + 300, { what: 'events after the drop' });
    expect(value(s, 'celery_exporter_events_dropped_suspected_total')).toBe(1);
    expect(sum(s, 'celery_exporter_events_invalid_total')).toBe(0);
    expect(counters.violations).toEqual([]);
    console.info(`overflow: published ${published} while stopped, ${seen - 200} of them seen; evidence: ${String(warn[0]!['evidence'])}`);
  });
});

describe('Redis unreachable, unresolvable, or refusing the password', () => {
  it('waits for a Redis that is not there at start, and is ready once it is', async () => {
    const port = await freePort();
    const url = `redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/0`;
    const e = await start(['--broker-url', url, '--queue-poll-interval', '1', '--inspect-poll-interval', '1']);
    await waitFor(() => Promise.resolve(msgs(e, /^broker not ready/).length), (n) => n === 1, { what: 'the not-ready line' });
    expect(msgs(e, /^broker not ready/)[0]!['msg']).toMatch(new RegExp(`connection refused by 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
    expect(await status(e, '/readyz')).toBe(503);
    expect(await status(e, '/healthz')).toBe(200);
    await new Promise((r) => setTimeout(r, 3000));
    const s = await scrape(e);
    expect(value(s, 'celery_exporter_broker_up')).toBe(0);
    expect(value(s, 'celery_exporter_poll_errors_total', { poller: 'redis_queues' })).toBeGreaterThan(0);
    expect(msgs(e, /^broker not ready/)).toHaveLength(1);

    await server({ port });
    const up = await waitFor(() => scrape(e), (x) => value(x, 'celery_exporter_broker_up') === 1, { timeoutMs: 45_000, what: 'ready once Redis runs' });
    // A first connection is not a recovery.
    expect(reconnects(up, 'events')).toBe(0);
    expect(await status(e, '/readyz')).toBe(200);
  });

  it('keeps trying a host name that does not resolve, saying so once', async () => {
    const e = await start(['--broker-url', `redis://:${encodeURIComponent(PASSWORD)}@cpe-no-such-host-${id}.invalid:6379/0`]);
    await waitFor(() => Promise.resolve(msgs(e, /^broker not ready/).length), (n) => n === 1, { what: 'the not-ready line' });
    expect(msgs(e, /^broker not ready/)[0]!['msg']).toBe(`broker not ready: cannot resolve host name "cpe-no-such-host-${id}.invalid" (ENOTFOUND): DNS lookup failed`);
    await new Promise((r) => setTimeout(r, 3000));
    expect(msgs(e, /^reconnecting the event subscriber/).length).toBeGreaterThanOrEqual(2);
    expect(msgs(e, /^broker not ready/)).toHaveLength(1);
    expect(await status(e, '/readyz')).toBe(503);
    expect(e.proc.exitCode).toBeNull();
  });

  it('names a wrong password and a missing one, without printing either', async () => {
    const redis = await server();
    const wrong = await start(['--broker-url', redis.url(0, WRONG), '--queue-poll-interval', '1']);
    const none = await start(['--broker-url', `redis://127.0.0.1:${redis.port}/0`]);
    for (const e of [wrong, none]) await waitFor(() => Promise.resolve(msgs(e, /^broker not ready/).length), (n) => n === 1, { what: 'the not-ready line' });
    expect(msgs(wrong, /^broker not ready/)[0]!['msg']).toMatch(/^broker not ready: authentication failed \(wrong password or user in the broker URL\): WRONGPASS/);
    expect(msgs(none, /^broker not ready/)[0]!['msg']).toBe('broker not ready: Redis requires a password (NOAUTH) and the broker URL has none');
    await new Promise((r) => setTimeout(r, 3000));
    for (const e of [wrong, none]) {
      expect(msgs(e, /^broker not ready/)).toHaveLength(1);
      expect(await status(e, '/readyz')).toBe(503);
      expect(value(await scrape(e), 'celery_exporter_broker_up')).toBe(0);
    }
    // One line says it: the queue poller fails too (counted) but does not repeat it.
    expect(msgs(wrong, /^poll failed;/)).toHaveLength(0);
    expect(value(await scrape(wrong), 'celery_exporter_poll_errors_total', { poller: 'redis_queues' })).toBeGreaterThan(0);
  });
});

/** `n` worker-heartbeat events of about 1 KB each, as kombu publishes them, in one pipeline. */
async function publishHeartbeats(pub: import('ioredis').Redis, n: number): Promise<void> {
  const p = pub.pipeline();
  const pad = 'x'.repeat(700);
  for (let i = 0; i < n; i++) {
    const body = { hostname: `hb-${id}@test`, utcoffset: 0, pid: 1, clock: i, freq: 60, active: 0, processed: 0, loadavg: [0, 0, 0], sw_ident: 'py-celery', sw_ver: '5.2.6', sw_sys: 'Linux', timestamp: Date.now() / 1000, type: 'worker-heartbeat', pad };
    p.publish(
      '/0.celeryev/worker.heartbeat',
      JSON.stringify({
        body: Buffer.from(JSON.stringify(body)).toString('base64'),
        'content-encoding': 'utf-8',
        'content-type': 'application/json',
        headers: { hostname: body.hostname },
        properties: { delivery_mode: 1, delivery_info: { exchange: 'celeryev', routing_key: 'worker.heartbeat' }, priority: 0, body_encoding: 'base64', delivery_tag: randomUUID() },
      }),
    );
  }
  await p.exec();
}
