import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendWorkload, startWorker, type Worker } from '../../helpers/celery.js';
import { startExporter, type Exporter } from '../../helpers/exporter.js';
import { uid } from '../../helpers/ids.js';
import { parseMetrics, select, sum, value, waitFor, type Sample } from '../../helpers/metrics.js';

/** A broker the suite runs against: a clean namespace (Redis DB, RabbitMQ vhost) per run. */
export interface BrokerUnderTest {
  /** "Redis", "RabbitMQ": names the describe block. */
  label: string;
  /** Prepares the namespace and returns the broker URL the exporter and Celery share. */
  setup(): Promise<string>;
  /** The URL the exporter uses: the same broker with credentials of its own (a test secret). */
  exporterUrl(url: string): Promise<string>;
  teardown(): Promise<void>;
}

/**
 * The same real-Celery workload and the same exact counts on every broker: a Celery 5.2.6
 * worker runs test/celery/send.py's standard workload and /metrics must show exactly what
 * happened. A broker transport is done when it passes this suite unchanged.
 */
export function workloadSuite(broker: BrokerUnderTest): void {
  const id = uid();
  const QA = `qa-${id}`;
  const QB = `high-priority-${id}`;
  const W1 = `w1-${id}@${hostname()}`;

  let url: string;
  let exporter: Exporter;
  let purging: Exporter;
  let worker: Worker | undefined;
  let samples: Sample[];

  const scrape = async (e: Exporter = exporter) => parseMetrics(await e.metrics());

  describe(`${broker.label} event stream from a real Celery worker`, () => {
    beforeAll(async () => {
      url = await broker.setup();
      const own = await broker.exporterUrl(url);
      exporter = await startExporter(['--broker-url', own]);
      purging = await startExporter(['--broker-url', own, '--purge-offline-worker-metrics', '3']);
      for (const e of [exporter, purging]) {
        await waitFor(() => fetch(`${e.url}/readyz`).then((r) => r.status), (s) => s === 200, { what: 'readyz' });
      }
      worker = await startWorker({ brokerUrl: url, queues: [QA, QB], name: W1 });
      await sendWorkload(url, ['standard', QA, QB]);
      // 17 terminal outcomes: 9 add + 1 retry_once succeeded, 3 failed, 1 rejected, 1 revoked … plus the ETA task.
      samples = await waitFor(
        scrape,
        (s) =>
          sum(s, 'celery_task_succeeded_total', { hostname: W1 }) === 9 &&
          sum(s, 'celery_task_failed_total', { hostname: W1 }) === 3 &&
          sum(s, 'celery_task_revoked_total', { hostname: W1 }) === 1 &&
          sum(s, 'celery_task_rejected_total', { hostname: W1 }) === 1,
        { timeoutMs: 60_000, what: 'the workload to finish' },
      );
    });

    afterAll(async () => {
      await worker?.stop();
      await exporter?.stop();
      await purging?.stop();
      await broker.teardown();
    });

    it('counts task-sent per task and queue, with the producer as hostname', () => {
      expect(sum(samples, 'celery_task_sent_total', { name: 'tests.add', queue_name: QA })).toBe(5);
      expect(sum(samples, 'celery_task_sent_total', { name: 'tests.add', queue_name: QB })).toBe(4);
      expect(sum(samples, 'celery_task_sent_total', { name: 'tests.fail_value', queue_name: QA })).toBe(2);
      expect(sum(samples, 'celery_task_sent_total', { name: 'tests.fail_key', queue_name: QB })).toBe(1);
      // Sent once by the producer, once more by the worker when it retries.
      expect(sum(samples, 'celery_task_sent_total', { name: 'tests.retry_once', queue_name: QA })).toBe(2);
      for (const s of select(samples, 'celery_task_sent_total', { queue_name: QA })) {
        expect(s.labels['hostname']).toMatch(/^gen\d+@/);
      }
    });

    it('counts worker-side events with the full worker node name and the right queue', () => {
      const w = { hostname: W1 };
      expect(value(samples, 'celery_task_received_total', { ...w, name: 'tests.add', queue_name: QA })).toBe(5);
      expect(value(samples, 'celery_task_received_total', { ...w, name: 'tests.add', queue_name: QB })).toBe(3);
      expect(value(samples, 'celery_task_started_total', { ...w, name: 'tests.add', queue_name: QA })).toBe(5);
      expect(value(samples, 'celery_task_succeeded_total', { ...w, name: 'tests.add', queue_name: QA })).toBe(5);
      expect(value(samples, 'celery_task_succeeded_total', { ...w, name: 'tests.add', queue_name: QB })).toBe(3);
      expect(value(samples, 'celery_task_received_total', { ...w, name: 'tests.retry_once', queue_name: QA })).toBe(2);
      expect(value(samples, 'celery_task_retried_total', { ...w, name: 'tests.retry_once', queue_name: QA })).toBe(1);
      expect(value(samples, 'celery_task_succeeded_total', { ...w, name: 'tests.retry_once', queue_name: QA })).toBe(1);
      expect(value(samples, 'celery_task_rejected_total', { ...w, name: 'tests.reject', queue_name: QA })).toBe(1);
      expect(value(samples, 'celery_task_revoked_total', { ...w, name: 'tests.add', queue_name: QB })).toBe(1);
      expect(select(samples, 'celery_task_received_total', { queue_name: 'unknown' })).toHaveLength(0);
    });

    it('labels failures with the exception class', () => {
      // Every worker-side (name, hostname, queue) also has its zero-started failed series (exception="").
      const failed = select(samples, 'celery_task_failed_total', { hostname: W1 }).filter((s) => s.labels['exception'] !== '');
      expect(select(samples, 'celery_task_failed_total', { hostname: W1, exception: '' }).every((s) => s.value === 0)).toBe(true);
      expect(failed.map((s) => [s.labels['name'], s.labels['exception'], s.labels['queue_name'], s.value]).sort()).toEqual([
        ['tests.fail_key', 'KeyError', QB, 1],
        ['tests.fail_value', 'ValueError', QA, 2],
      ]);
    });

    it('observes runtime for succeeded and failed tasks, queue wait without the ETA delay', () => {
      const rt = { name: 'tests.add', queue_name: QA };
      expect(value(samples, 'celery_task_runtime_seconds_count', { ...rt, state: 'succeeded' })).toBe(5);
      expect(value(samples, 'celery_task_runtime_seconds_count', { name: 'tests.fail_value', queue_name: QA, state: 'failed' })).toBe(2);
      expect(value(samples, 'celery_task_queue_wait_seconds_count', rt)).toBe(5);
      // The countdown=2 task waited 2 s for its ETA; excluded, every wait is well under 2 s.
      expect(value(samples, 'celery_task_queue_wait_seconds_bucket', { ...rt, le: '1' })).toBe(5);
      expect(value(samples, 'celery_task_prefetch_wait_seconds_count', rt)).toBe(5);
      expect(value(samples, 'celery_task_prefetch_wait_seconds_bucket', { ...rt, le: '1' })).toBe(5);
      expect(value(samples, 'celery_task_latency_seconds_count', rt)).toBe(5);
      expect(value(samples, 'celery_task_latency_seconds_count', { name: 'tests.fail_key', queue_name: QB })).toBe(1);
      // The retried task's latency spans both attempts (the retry waited 0.2 s).
      expect(value(samples, 'celery_task_latency_seconds_count', { name: 'tests.retry_once', queue_name: QA })).toBe(1);
      expect(value(samples, 'celery_task_latency_seconds_sum', { name: 'tests.retry_once', queue_name: QA })).toBeGreaterThan(0.2);
    });

    it('reports the worker from its heartbeats', () => {
      const w = { hostname: W1 };
      expect(value(samples, 'celery_worker_up', w)).toBe(1);
      expect(value(samples, 'celery_worker_tasks_active', w)).toBe(0);
      expect(value(samples, 'celery_worker_tasks_processed', w)).toBeGreaterThanOrEqual(0);
      expect(select(samples, 'celery_worker_load_average', w).map((s) => s.labels['period']).sort()).toEqual(['15m', '1m', '5m']);
      expect(value(samples, 'celery_worker_last_heartbeat_timestamp_seconds', w)).toBeGreaterThan(Date.now() / 1000 - 30);
      expect(value(samples, 'celery_worker_info', { ...w, sw_ident: 'py-celery', sw_ver: '5.2.6', sw_sys: 'Linux' })).toBe(1);
    });

    it('reports its own health', () => {
      expect(value(samples, 'celery_exporter_broker_up')).toBe(1);
      expect(value(samples, 'celery_exporter_events_total', { type: 'task-sent' })).toBe(15);
      expect(value(samples, 'celery_exporter_events_total', { type: 'worker-online' })).toBe(1);
      expect(select(samples, 'celery_exporter_events_invalid_total').filter((s) => s.value > 0)).toEqual([]);
      expect(value(samples, 'celery_exporter_event_lag_seconds')).toBeLessThan(5);
      expect(value(samples, 'celery_exporter_tracked_tasks')).toBe(0);
      expect(value(samples, 'celery_exporter_reconnects_total', { component: 'events' })).toBe(0);
    });

    it('sets worker_up to 0 when the worker stops, then purges its series after the delay', async () => {
      await worker!.stop();
      worker = undefined;
      const down = await waitFor(scrape, (s) => value(s, 'celery_worker_up', { hostname: W1 }) === 0, { what: 'worker_up 0' });
      expect(value(down, 'celery_worker_tasks_active', { hostname: W1 })).toBe(0);
      // The exporter with the default purge delay keeps the series at 0 …
      expect(sum(down, 'celery_task_succeeded_total', { hostname: W1 })).toBe(9);
      // … the one with a 3 s delay removes every series carrying the hostname.
      const purged = await waitFor(
        () => scrape(purging),
        (s) => s.every((x) => x.labels['hostname'] !== W1),
        { timeoutMs: 20_000, what: 'purge of the worker’s series' },
      );
      expect(select(purged, 'celery_worker_up', { hostname: W1 })).toHaveLength(0);
      expect(sum(purged, 'celery_exporter_events_total', { type: 'task-succeeded' })).toBe(9);
    });

    it('sets worker_up to 0 within 2 × the heartbeat interval when a worker is killed', async () => {
      const W2 = `w2-${id}@${hostname()}`;
      const w2 = await startWorker({ brokerUrl: url, queues: [`idle-${id}`], name: W2, heartbeatInterval: 1 });
      try {
        await waitFor(scrape, (s) => select(s, 'celery_worker_up', { hostname: W2 })[0]?.value === 1, { what: 'w2 up' });
        const killedAt = Date.now();
        await w2.kill(); // SIGKILL: no worker-offline event
        await waitFor(scrape, (s) => value(s, 'celery_worker_up', { hostname: W2 }) === 0, { timeoutMs: 10_000, what: 'w2 down' });
        expect(Date.now() - killedAt).toBeLessThan(5000);
      } finally {
        await w2.stop();
      }
    });
  });
}
