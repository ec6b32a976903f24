import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { parseMetrics, sum, waitFor, type Sample } from '../helpers/metrics.js';
import { ownBrokers, type TestBroker } from '../helpers/own-brokers.js';

/**
 * Retried tasks against a real prefork worker (-c 4): the retry's task-received/task-started
 * come from the worker's main process, the first attempt's task-retried from the pool child, and
 * they arrive in either order. Every execution must still give one queue-wait and one
 * prefetch-wait observation: 20 tasks × 2 attempts = 40. Before attempts were tracked, a late
 * task-retried cleared the retry's received/started: Redis gave 26/38, RabbitMQ 12/15 and 6/15.
 */
const TASKS = 20;


function retrySuite(broker: TestBroker): void {
  describe(`${broker.label}: tasks that retry once`, () => {
    const id = uid();
    const queue = `retry-${id}`;
    const name = `wr-${id}@${hostname()}`;
    let worker: Worker | undefined;
    let exporter: Exporter | undefined;
    let samples: Sample[];

    beforeAll(async () => {
      const url = await broker.setup();
      exporter = await startExporter(['--broker-url', url, '--no-enable-events', '--no-inspect-metrics']);
      await waitFor(() => fetch(`${exporter!.url}/readyz`).then((r) => r.status), (s) => s === 200, { what: 'readyz' });
      worker = await startWorker({ brokerUrl: url, queues: [queue], name, concurrency: 4 });
      await sendWorkload(url, ['retry_now', queue, String(TASKS)]);
      const scrape = async () => parseMetrics(await exporter!.metrics());
      await waitFor(
        scrape,
        (s) => sum(s, 'celery_task_succeeded_total', { name: 'tests.retry_now' }) === TASKS && sum(s, 'celery_task_retried_total', { name: 'tests.retry_now' }) === TASKS,
        { timeoutMs: 60_000, what: 'every task to retry once and succeed' },
      );
      // Events of one task come over two connections: give the slower one a moment.
      await new Promise((r) => setTimeout(r, 1500));
      samples = await scrape();
    }, 180_000);

    afterAll(async () => {
      await worker?.stop();
      await exporter?.stop();
      await broker.teardown();
    });

    const l = { name: 'tests.retry_now', queue_name: queue };

    it('observes queue wait and prefetch wait once per execution (2 per task)', () => {
      const counts = {
        queueWait: sum(samples, 'celery_task_queue_wait_seconds_count', l),
        prefetchWait: sum(samples, 'celery_task_prefetch_wait_seconds_count', l),
        received: sum(samples, 'celery_task_received_total', l),
        started: sum(samples, 'celery_task_started_total', l),
      };
      expect(counts).toEqual({ queueWait: 2 * TASKS, prefetchWait: 2 * TASKS, received: 2 * TASKS, started: 2 * TASKS });
    });

    it('keeps runtime and end-to-end latency right: one each per task, latency spanning both attempts', () => {
      expect(sum(samples, 'celery_task_runtime_seconds_count', { ...l, state: 'succeeded' })).toBe(TASKS);
      expect(sum(samples, 'celery_task_latency_seconds_count', l)).toBe(TASKS);
      // Every latency covers two executions, and none is absurd (a wrong start would give days).
      const lat = sum(samples, 'celery_task_latency_seconds_sum', l);
      const rt = sum(samples, 'celery_task_runtime_seconds_sum', { ...l, state: 'succeeded' });
      expect(lat).toBeGreaterThan(rt);
      expect(lat / TASKS).toBeLessThan(10);
      expect(sum(samples, 'celery_exporter_tracked_tasks')).toBe(0);
      expect(sum(samples, 'celery_task_received_total', { queue_name: 'unknown' })).toBe(0);
    });
  });
}

for (const broker of ownBrokers('retries')) retrySuite(broker);
