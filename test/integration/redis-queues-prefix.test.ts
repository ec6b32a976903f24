import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushDb, REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { parseMetrics, select, sum, value, waitFor, type Sample } from '../helpers/metrics.js';

/**
 * kombu's layout options, set the same on the Celery side and the exporter: a global key
 * prefix, a custom priority separator and custom priority steps.
 */
const id = uid();
const DB = REDIS_DB.queuesPrefix;
const url = redisUrl(DB);
const TRANSPORT = { global_keyprefix: `app-${id}:`, sep: ':', priority_steps: [0, 5] };
const PRIO = `prio-${id}`;
const ETA = `eta-${id}`;

let exporter: Exporter;
let worker: Worker | undefined;
const scrape = async () => parseMetrics(await exporter.metrics());
const one = (s: Sample[], name: string, labels: Record<string, string>) => select(s, name, labels)[0]?.value;

describe('Redis queues with global_keyprefix, sep and priority_steps', () => {
  beforeAll(async () => {
    await flushDb(DB);
    exporter = await startExporter([
      '--broker-url', url,
      '--broker-transport-option', `global_keyprefix=${TRANSPORT.global_keyprefix}`,
      '--broker-transport-option', 'sep=:',
      '--broker-transport-option', 'priority_steps=[0,5]',
      '--queue-poll-interval', '1',
      '--queue-discovery-interval', '1',
    ]);
    await waitFor(() => fetch(`${exporter.url}/readyz`).then((r) => r.status), (s) => s === 200, { what: 'readyz' });
  });

  afterAll(async () => {
    await worker?.stop();
    await exporter?.stop();
  });

  it('discovers the queue through its prefixed binding, finds the prefixed lists and splits by the configured steps', async () => {
    // No task-sent events: the queue can only be found through its prefixed binding.
    await sendWorkload(url, ['--no-sent-event', 'priorities', PRIO, '1,2,3,4,5,6,7,8,9,10'], TRANSPORT);
    // The producer really wrote prefixed keys with the custom separator.
    const r = new Redis(url);
    expect(await r.llen(`${TRANSPORT.global_keyprefix}${PRIO}:5`)).toBe(6 + 7 + 8 + 9 + 10);
    expect(await r.exists(PRIO)).toBe(0);
    r.disconnect();
    const s = await waitFor(scrape, (x) => one(x, 'celery_queue_length', { queue_name: PRIO }) === 55, { what: 'depth 55' });
    const split = Object.fromEntries(
      select(s, 'celery_queue_length_by_priority', { queue_name: PRIO }).map((x) => [x.labels['priority'], x.value]),
    );
    expect(split).toEqual({ '0': 1 + 2 + 3 + 4 + 5, '5': 6 + 7 + 8 + 9 + 10 });
  });

  it('reads the prefixed unacked hash and sees prefixed events', async () => {
    worker = await startWorker({ brokerUrl: url, queues: [ETA], name: `pfx-${id}@${hostname()}`, transportOptions: TRANSPORT });
    await sendWorkload(url, ['countdown', ETA, '3', '600'], TRANSPORT);
    const s = await waitFor(
      scrape,
      // (received is summed over queue labels: the very first task of a name can be received
      // before its task-sent arrives, and is then labelled "unknown" by the event side)
      (x) =>
        one(x, 'celery_queue_unacked', { queue_name: ETA }) === 3 &&
        sum(x, 'celery_task_sent_total', { queue_name: ETA }) === 3 &&
        sum(x, 'celery_task_received_total', { hostname: worker!.name }) === 3,
      { what: 'three reserved ETA tasks' },
    );
    expect(value(s, 'celery_queue_length', { queue_name: ETA })).toBe(0);
    expect(value(s, 'celery_queue_unacked_oldest_age_seconds', { queue_name: ETA })).toBeGreaterThanOrEqual(0);
    // Received by the worker: not pending any more.
    expect(value(s, 'celery_queue_oldest_pending_age_seconds', { queue_name: ETA })).toBe(0);
    const names = select(s, 'celery_queue_length').map((x) => x.labels['queue_name']!);
    expect(names.filter((n) => n.startsWith('celeryev') || n.endsWith('pidbox'))).toEqual([]);
  });
});
