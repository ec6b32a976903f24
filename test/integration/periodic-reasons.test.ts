import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushDb, REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { parseMetrics, select, sum, value, waitFor, type Sample } from '../helpers/metrics.js';

/**
 * A real Celery worker runs every outcome once — a success, a failure, a rejection, a task revoked
 * before it starts, one that expires, and one terminated while it runs — and the exporter must
 * report the last success/failure times per name (the worker's event times), the declared
 * periodic intervals, and why each task was revoked or rejected, beside the unchanged drop-in counters.
 */
const id = uid();
const Q = `periodic-${id}`;
const W = `periodic-${id}@vm`;
const DB = REDIS_DB.periodic;

describe('periodic-task timestamps and revoke/reject reasons from a real worker (Redis)', () => {
  let exporter: Exporter | undefined;
  let worker: Worker | undefined;
  let before = 0;
  let after = 0;
  let s: Sample[] = [];

  beforeAll(async () => {
    await flushDb(DB);
    const url = redisUrl(DB);
    exporter = await startExporter([
      '--broker-url', url, '--no-inspect-metrics', '--queue-poll-interval', '3600',
      '--periodic-task', 'tests.add=1h', '--periodic-task', 'tests.fail_*=1d', '--periodic-task', 'tests.never=5m',
      '--periodic-task-tolerance', 'tests.never=3',
    ]);
    await waitFor(() => fetch(`${exporter!.url}/readyz`).then((r) => r.status), (st) => st === 200, { what: 'readyz' });
    worker = await startWorker({ brokerUrl: url, queues: [Q], name: W, concurrency: 2 });
    before = Date.now() / 1000;
    await sendWorkload(url, ['outcomes', Q]);
    const long = (await sendWorkload(url, ['sleep', Q, '60']))['id'] as string;
    const metrics = async () => parseMetrics(await exporter!.metrics());
    await waitFor(metrics, (m) => sum(m, 'celery_task_started_total', { name: 'tests.sleep' }) === 1, { what: 'tests.sleep started', timeoutMs: 30_000 });
    await sendWorkload(url, ['revoke', long, 'terminate']);
    s = await waitFor(
      metrics,
      (m) =>
        sum(m, 'celery_task_revocations_total', { reason: 'terminated' }) >= 1 &&
        sum(m, 'celery_task_revocations_total', { reason: 'expired' }) === 1 &&
        sum(m, 'celery_task_rejections_total') === 1 &&
        select(m, 'celery_task_last_succeeded_timestamp_seconds', { name: 'tests.add' }).length === 1 &&
        select(m, 'celery_task_last_failed_timestamp_seconds', { name: 'tests.fail_value' }).length === 1,
      { what: 'every outcome reported', timeoutMs: 45_000 },
    );
    after = Date.now() / 1000;
  }, 180_000);

  afterAll(async () => {
    await worker?.stop();
    await exporter?.stop();
  });

  it('reports the worker’s time of the last success and failure per task name', () => {
    const ok = value(s, 'celery_task_last_succeeded_timestamp_seconds', { name: 'tests.add' });
    const failed = value(s, 'celery_task_last_failed_timestamp_seconds', { name: 'tests.fail_value' });
    // Same host, so the worker's clock is ours (1 s of slack for rounding in the event timestamp).
    for (const t of [ok, failed]) {
      expect(t).toBeGreaterThan(before - 1);
      expect(t).toBeLessThan(after + 1);
    }
    // Names only, no hostname or queue label.
    expect(Object.keys(select(s, 'celery_task_last_succeeded_timestamp_seconds', { name: 'tests.add' })[0]!.labels)).toEqual(['name']);
    // A revoked, expired or rejected task is neither a success nor a failure.
    expect(select(s, 'celery_task_last_failed_timestamp_seconds', { name: 'tests.reject' })).toEqual([]);
    expect(select(s, 'celery_task_last_succeeded_timestamp_seconds', { name: 'tests.sleep' })).toEqual([]);
  });

  it('exports the declared intervals: exact names from the start, glob matches once seen', () => {
    const intervals = Object.fromEntries(select(s, 'celery_task_expected_interval_seconds').map((x) => [x.labels['name'], x.value]));
    expect(intervals).toEqual({ 'tests.add': 3600, 'tests.never': 300, 'tests.fail_value': 86_400 });
    expect(value(s, 'celery_task_expected_interval_tolerance_ratio', { name: 'tests.never' })).toBe(3);
    expect(value(s, 'celery_task_expected_interval_tolerance_ratio', { name: 'tests.add' })).toBe(1.5);
    const started = value(s, 'celery_exporter_start_time_seconds');
    expect(started).toBeLessThan(before);
    expect(started).toBeGreaterThan(before - 120);
  });

  it('tells a revoke before start, an expiry and a terminate apart, and a discarding reject', () => {
    expect(value(s, 'celery_task_revocations_total', { name: 'tests.add', reason: 'revoked' })).toBe(1);
    expect(value(s, 'celery_task_revocations_total', { name: 'tests.add', reason: 'expired' })).toBe(1);
    expect(value(s, 'celery_task_revocations_total', { name: 'tests.sleep', reason: 'terminated' })).toBeGreaterThanOrEqual(1);
    expect(value(s, 'celery_task_rejections_total', { name: 'tests.reject', reason: 'discard' })).toBe(1);
    // Drop-in counters: same names and labels as before, the same events counted.
    expect(sum(s, 'celery_task_revoked_total')).toBe(sum(s, 'celery_task_revocations_total'));
    expect(value(s, 'celery_task_rejected_total', { name: 'tests.reject', hostname: W, queue_name: Q })).toBe(1);
    for (const x of select(s, 'celery_task_revoked_total')) expect(Object.keys(x.labels).sort()).toEqual(['hostname', 'name', 'queue_name']);
    console.log(
      `revocations: ${select(s, 'celery_task_revocations_total').map((x) => `${x.labels['name']}/${x.labels['reason']}=${x.value}`).join(', ')}`,
    );
  });
});
