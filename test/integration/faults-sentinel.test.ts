import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { parseMetrics, select, sum, value, waitFor, type Sample } from '../helpers/metrics.js';
import { CounterWatch, linesWithSecrets, logLines, strayLines } from '../helpers/monotonic.js';
import { freePort } from '../helpers/ports.js';
import { OwnRedis, startSentinel, type OwnSentinel } from '../helpers/redis-server.js';

/**
 * Redis behind Sentinel, kombu's URL form (`sentinel://…;sentinel://…` with the master_name
 * transport option), through a failover: a master, a replica and a sentinel of this file's own
 * (password protected), a real Celery worker connected through Sentinel, `SENTINEL FAILOVER`,
 * then events and queue depth from the new master.
 */
const id = uid();
const PASSWORD = `pw-${id}-s3cret`;
const Q = `sq-${id}`;
const IDLE = `si-${id}`;
const W = `sw-${id}@${hostname()}`;
const OPTIONS = { master_name: 'mymaster' };

let master: OwnRedis;
let replica: OwnRedis;
let sentinel: OwnSentinel;
let worker: Worker | undefined;
let e: Exporter | undefined;
let url: string;
const counters: CounterWatch[] = [];

const scrape = async () => parseMetrics(await e!.metrics());
const succeeded = (s: Sample[]) => sum(s, 'celery_task_succeeded_total', { hostname: W });
const brokers = (s: Sample[]) => select(s, 'celery_broker_uptime_seconds').map((x) => x.labels['broker']);

beforeAll(async () => {
  // No 5 s wait before the first sync (Redis 7's repl-diskless-sync-delay).
  master = await OwnRedis.start({ password: PASSWORD, args: ['--repl-diskless-sync-delay', '0'] });
  replica = await OwnRedis.start({ password: PASSWORD, args: ['--replicaof', '127.0.0.1', String(master.port)] });
  await waitFor(async () => String(await replica.client().info('replication')), (i) => i.includes('master_link_status:up'), { what: 'the replica in sync' });
  sentinel = await startSentinel(master);
  await waitFor(
    async () => (await sentinel.client().call('SENTINEL', 'REPLICAS', 'mymaster')) as unknown[],
    (r) => r.length === 1,
    { what: 'the sentinel to find the replica' },
  );
  // The first sentinel of the list is not there: both kombu and the exporter go on to the next.
  const dead = await freePort();
  url = `sentinel://:${PASSWORD}@127.0.0.1:${dead};sentinel://:${PASSWORD}@127.0.0.1:${sentinel.port}`;
  worker = await startWorker({ brokerUrl: url, transportOptions: OPTIONS, queues: [Q], name: W });
});

afterAll(async () => {
  for (const c of counters) c.stop();
  await worker?.stop();
  await e?.stop();
  await sentinel?.stop();
  await replica?.stop();
  await master?.stop();
  if (e !== undefined) {
    expect(linesWithSecrets(e.output(), [PASSWORD])).toEqual([]);
    // The unreachable sentinel of the URL makes no noise beyond debug lines.
    expect(strayLines(e.output())).toEqual([]);
  }
});

describe('Sentinel', () => {
  it('finds the master through the sentinels, then follows a failover: events and queue depth go on from the new master', async () => {
    e = await startExporter([
      '--log-level',
      'debug',
      '--broker-url',
      url,
      '--broker-transport-option',
      'master_name=mymaster',
      '--queues',
      `${Q},${IDLE}`,
      '--queue-poll-interval',
      '1',
      '--inspect-poll-interval',
      '2',
    ]);
    const watch = new CounterWatch(() => e!.metrics()).start();
    counters.push(watch);
    const first = `127.0.0.1:${master.port}`;
    const second = `127.0.0.1:${replica.port}`;
    await sendWorkload(url, ['add', Q, '3'], OPTIONS);
    await sendWorkload(url, ['add', IDLE, '5'], OPTIONS);
    const before = await waitFor(
      () => scrape(),
      (s) => succeeded(s) === 3 && sum(s, 'celery_queue_length', { queue_name: IDLE }) === 5 && sum(s, 'celery_worker_pool_max_concurrency') > 0,
      { timeoutMs: 45_000, what: 'tasks, depth and an inspect round through Sentinel' },
    );
    expect(brokers(before)).toEqual([first]);
    expect(String(logLines(e.output()).find((l) => /^broker ready/.test(String(l['msg'])))?.['msg'])).toContain(`on ${first}`);

    // Sentinel promotes the replica whatever it holds: let it have caught up first.
    await waitFor(() => replica.client().llen(IDLE), (n) => n === 5, { what: 'the replica to hold the idle queue' });
    const failoverAt = Date.now();
    await sentinel.client().call('SENTINEL', 'FAILOVER', 'mymaster');
    const after = await waitFor(
      () => scrape(),
      (s) =>
        value(s, 'celery_exporter_reconnects_total', { component: 'events' }) === 1 &&
        value(s, 'celery_exporter_broker_up') === 1 &&
        brokers(s).includes(second) &&
        !brokers(s).includes(first) &&
        sum(s, 'celery_queue_length', { queue_name: IDLE }) === 5,
      { timeoutMs: 30_000, what: 'the exporter on the new master' },
    );
    // Moved when Sentinel announced it, not when the old master was reconfigured ~10 s later.
    const moved = logLines(e.output()).find((l) => /^Sentinel announced a new master/.test(String(l['msg'])));
    expect(moved?.['master']).toBe(second);
    const ready = logLines(e.output()).filter((l) => /^broker ready/.test(String(l['msg']))).pop()!;
    expect(ready['msg']).toContain(`on ${second}; now connected to ${second} (was ${first}): another server`);
    expect(value(after, 'celery_exporter_reconnects_total', { component: 'queues' })).toBeGreaterThanOrEqual(1);
    console.info(`sentinel: exporter on the new master ${Date.now() - failoverAt} ms after SENTINEL FAILOVER`);

    // Sentinel turns the old master into a replica and drops its clients; the worker reconnects
    // through Sentinel to the new master.
    await waitFor(async () => String(await master.client().info('replication')), (i) => i.includes('role:slave'), { timeoutMs: 30_000, what: 'the old master demoted' });
    await sendWorkload(url, ['add', Q, '4'], OPTIONS);
    await sendWorkload(url, ['add', IDLE, '2'], OPTIONS);
    const s = await waitFor(() => scrape(), (x) => succeeded(x) === 7 && sum(x, 'celery_queue_length', { queue_name: IDLE }) === 7, {
      timeoutMs: 60_000,
      what: 'events and depth from the new master',
    });
    expect(sum(s, 'celery_task_sent_total', { queue_name: Q })).toBe(7);
    await waitFor(() => scrape(), (x) => value(x, 'celery_exporter_reconnects_total', { component: 'control' }) >= 1, { what: 'remote control on the new master' });
    expect(value(s, 'celery_exporter_events_dropped_suspected_total')).toBe(0);
    expect(watch.violations).toEqual([]);
  });
});
