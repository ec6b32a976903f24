import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushDb, REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { parseMetrics, select, value, waitFor, type Sample } from '../helpers/metrics.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * Queue depth, discovery, reserved tasks and the backlog signals against a real Redis and real
 * Celery 5.2.6 producers and workers.
 */
const id = uid();
const DB = REDIS_DB.queues;
const url = redisUrl(DB);
const PRIO = `prio-${id}`; // prioritised tasks, no worker
const QUIET = `quiet-${id}`; // no worker, producer without task-sent events
const WAIT = `wait-${id}`; // waits, then a worker drains it
const RESERVED = `reserved-${id}`; // acks_late worker holding tasks
const GONE = `gone-${id}`; // deleted from the broker, then forgotten

let exporter: Exporter;
const workers: Worker[] = [];
const scrape = async (e: Exporter = exporter) => parseMetrics(await e.metrics());
const one = (s: Sample[], name: string, labels: Record<string, string>) => select(s, name, labels)[0]?.value;

describe('Redis queues', () => {
  beforeAll(async () => {
    await flushDb(DB);
    exporter = await startExporter([
      '--broker-url', url,
      '--queue-poll-interval', '1',
      '--queue-discovery-interval', '1',
      '--queue-forget-after', '3',
      '--long-running-task-threshold', '2',
    ]);
    await waitFor(() => fetch(`${exporter.url}/readyz`).then((r) => r.status), (s) => s === 200, { what: 'readyz' });
  });

  afterAll(async () => {
    for (const w of workers) await w.stop();
    await exporter?.stop();
  });

  it('reports the exact depth and per-priority split of a prioritised queue nobody consumes', async () => {
    // c_i tasks with priority i: 1 of priority 0, 2 of priority 1, … 10 of priority 9.
    await sendWorkload(url, ['priorities', PRIO, '1,2,3,4,5,6,7,8,9,10']);
    const s = await waitFor(scrape, (x) => one(x, 'celery_queue_length', { queue_name: PRIO }) === 55, { what: 'depth 55' });
    // kombu's steps 0,3,6,9: priorities 0–2 → base list, 3–5 → 3, 6–8 → 6, 9 → 9.
    const split = Object.fromEntries(
      select(s, 'celery_queue_length_by_priority', { queue_name: PRIO }).map((x) => [x.labels['priority'], x.value]),
    );
    expect(split).toEqual({ '0': 1 + 2 + 3, '3': 4 + 5 + 6, '6': 7 + 8 + 9, '9': 10 });
    expect(value(s, 'celery_queue_unacked', { queue_name: PRIO })).toBe(0);
    // Its tasks were announced with task-sent: they wait, so the pending age is there.
    expect(one(s, 'celery_queue_oldest_pending_age_seconds', { queue_name: PRIO })).toBeGreaterThanOrEqual(0);
  });

  it('discovers a queue that no worker consumes and no event named, from kombu’s bindings', async () => {
    await sendWorkload(url, ['--no-sent-event', 'add', QUIET, '4']);
    const s = await waitFor(scrape, (x) => one(x, 'celery_queue_length', { queue_name: QUIET }) === 4, { what: 'discovered queue' });
    expect(select(s, 'celery_task_sent_total', { queue_name: QUIET })).toHaveLength(0);
    // No priorities in use: no split. No task-sent ever: no pending-age series rather than a false 0.
    expect(select(s, 'celery_queue_length_by_priority', { queue_name: QUIET })).toHaveLength(0);
    expect(select(s, 'celery_queue_oldest_pending_age_seconds', { queue_name: QUIET })).toHaveLength(0);
  });

  it('reports broker health from INFO with host:port as the broker label', async () => {
    const s = await scrape();
    const broker = new URL(url).host;
    expect(value(s, 'celery_broker_connected_clients', { broker })).toBeGreaterThanOrEqual(2);
    expect(value(s, 'celery_broker_memory_used_bytes', { broker })).toBeGreaterThan(100_000);
    expect(value(s, 'celery_broker_uptime_seconds', { broker })).toBeGreaterThan(0);
    expect(value(s, 'celery_broker_evicted_keys_total', { broker })).toBeGreaterThanOrEqual(0);
    expect(value(s, 'celery_exporter_poll_errors_total', { poller: 'redis_queues' })).toBe(0);
    expect(value(s, 'celery_exporter_poll_duration_seconds', { poller: 'redis_queues' })).toBeLessThan(1);
  });

  it('shows the oldest pending age growing while tasks wait, and 0 once a worker drains them', async () => {
    await sendWorkload(url, ['add', WAIT, '3']);
    const first = await waitFor(
      scrape,
      (x) => one(x, 'celery_queue_length', { queue_name: WAIT }) === 3 && (one(x, 'celery_queue_oldest_pending_age_seconds', { queue_name: WAIT }) ?? 0) >= 1,
      { what: 'tasks waiting' },
    );
    const age1 = value(first, 'celery_queue_oldest_pending_age_seconds', { queue_name: WAIT });
    await new Promise((r) => setTimeout(r, 2000));
    const age2 = value(await scrape(), 'celery_queue_oldest_pending_age_seconds', { queue_name: WAIT });
    expect(age2).toBeGreaterThanOrEqual(age1 + 1.5);

    workers.push(await startWorker({ brokerUrl: url, queues: [WAIT], name: `drain-${id}@${hostname()}` }));
    const drained = await waitFor(
      scrape,
      (x) => one(x, 'celery_queue_oldest_pending_age_seconds', { queue_name: WAIT }) === 0 && one(x, 'celery_queue_length', { queue_name: WAIT }) === 0,
      { timeoutMs: 30_000, what: 'queue drained' },
    );
    expect(value(drained, 'celery_task_succeeded_total', { queue_name: WAIT, name: 'tests.add' })).toBe(3);
  });

  it('counts tasks held by an acks_late worker as reserved, with the right queue and an age; the running one shows as active', async () => {
    const w = await startWorker({
      brokerUrl: url,
      queues: [RESERVED],
      name: `late-${id}@${hostname()}`,
      concurrency: 1,
      env: { TASK_ACKS_LATE: '1' },
    });
    workers.push(w);
    await sendWorkload(url, ['sleep', RESERVED, '7']);
    await sendWorkload(url, ['countdown', RESERVED, '2', '600']);
    const active = { name: 'tests.sleep', queue_name: RESERVED };
    const held = await waitFor(
      scrape,
      (x) =>
        one(x, 'celery_queue_unacked', { queue_name: RESERVED }) === 3 &&
        (one(x, 'celery_queue_unacked_oldest_age_seconds', { queue_name: RESERVED }) ?? 0) >= 1 &&
        one(x, 'celery_tasks_running_longer_than_threshold', active) === 1,
      { what: 'three reserved tasks, the sleeping one past the 2 s threshold' },
    );
    expect(value(held, 'celery_queue_length', { queue_name: RESERVED })).toBe(0);
    expect(value(held, 'celery_task_oldest_active_age_seconds', active)).toBeGreaterThan(2);
    // Reserved messages belong to their queue only.
    expect(value(held, 'celery_queue_unacked', { queue_name: PRIO })).toBe(0);

    // The sleeping task finishes: acked, no longer active; the two ETA tasks stay reserved.
    const done = await waitFor(
      scrape,
      (x) => one(x, 'celery_queue_unacked', { queue_name: RESERVED }) === 2 && select(x, 'celery_task_oldest_active_age_seconds', active).length === 0,
      { timeoutMs: 30_000, what: 'the sleep task to finish' },
    );
    expect(select(done, 'celery_tasks_running_longer_than_threshold', active)).toHaveLength(0);

    // A warm shutdown hands the ETA tasks back to the queue.
    await w.stop();
    await waitFor(
      scrape,
      (x) => one(x, 'celery_queue_unacked', { queue_name: RESERVED }) === 0 && one(x, 'celery_queue_length', { queue_name: RESERVED }) === 2,
      { what: 'ETA tasks restored to the queue' },
    );
  });

  it('never reports Celery’s own plumbing queues (events, pidbox, replies)', async () => {
    const s = await scrape();
    const names = select(s, 'celery_queue_length').map((x) => x.labels['queue_name']!);
    expect(names.filter((n) => n.startsWith('celeryev') || n.endsWith('pidbox'))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining([PRIO, QUIET, WAIT, RESERVED]));
  });

  it('forgets a queue deleted from the broker once it stayed empty for --queue-forget-after', async () => {
    await sendWorkload(url, ['add', GONE, '1']);
    await waitFor(scrape, (x) => one(x, 'celery_queue_length', { queue_name: GONE }) === 1, { what: 'queue seen' });
    // What kombu's queue_delete does: drop the binding and the lists.
    const r = new Redis(url);
    await r.del(`_kombu.binding.${GONE}`, GONE);
    r.disconnect();
    const s = await waitFor(scrape, (x) => select(x, 'celery_queue_length', { queue_name: GONE }).length === 0, {
      timeoutMs: 20_000,
      what: 'the deleted queue to be forgotten',
    });
    expect(select(s, 'celery_queue_unacked', { queue_name: GONE })).toHaveLength(0);
    expect(select(s, 'celery_queue_oldest_pending_age_seconds', { queue_name: GONE })).toHaveLength(0);
    // Bound queues stay, even empty ones.
    expect(value(s, 'celery_queue_length', { queue_name: WAIT })).toBe(0);
  });

  it('withholds queue and broker series while polls fail or time out, and recovers', async () => {
    const target = new URL(url);
    const proxy = new TcpProxy(target.hostname, Number(target.port));
    const port = await proxy.start();
    // A string key under a queue's name: that queue is unreadable, the others are not affected.
    const WRONG = `wrongtype-${id}`;
    const r = new Redis(url);
    await r.set(WRONG, 'not a list');
    r.disconnect();
    const viaProxy = await startExporter([
      '--broker-url', `redis://127.0.0.1:${port}/${DB}`,
      '--queue-poll-interval', '1',
      '--queue-poll-timeout', '1',
      '--queues', `${PRIO},${WRONG}`,
    ]);
    try {
      const first = await waitFor(() => scrape(viaProxy), (x) => one(x, 'celery_queue_length', { queue_name: PRIO }) === 55, { what: 'first poll' });
      expect(select(first, 'celery_queue_length', { queue_name: WRONG })).toHaveLength(0);
      expect(value(first, 'celery_exporter_poll_errors_total', { poller: 'redis_queues' })).toBe(0);
      proxy.pause();
      const failing = await waitFor(
        () => scrape(viaProxy),
        (x) => (one(x, 'celery_exporter_poll_errors_total', { poller: 'redis_queues' }) ?? 0) >= 2,
        { timeoutMs: 15_000, what: 'failed polls' },
      );
      expect(select(failing, 'celery_queue_length')).toHaveLength(0);
      expect(select(failing, 'celery_queue_length_by_priority')).toHaveLength(0);
      expect(select(failing, 'celery_queue_unacked')).toHaveLength(0);
      expect(select(failing, 'celery_broker_connected_clients')).toHaveLength(0);
      // /metrics answered at once although the broker does not.
      const t0 = Date.now();
      await viaProxy.metrics();
      expect(Date.now() - t0).toBeLessThan(1000);

      proxy.resume();
      const back = await waitFor(() => scrape(viaProxy), (x) => one(x, 'celery_queue_length', { queue_name: PRIO }) === 55, {
        timeoutMs: 20_000,
        what: 'recovery',
      });
      expect(value(back, 'celery_queue_length_by_priority', { queue_name: PRIO, priority: '9' })).toBe(10);
      expect(value(back, 'celery_exporter_reconnects_total', { component: 'queues' })).toBeGreaterThanOrEqual(1);
    } finally {
      await viaProxy.stop();
      await proxy.stop();
    }
  });
});
