import { describe, expect, it } from 'vitest';
import { sanitiseLabelValue } from '../../src/metrics/format.js';
import { OTHER, TaskNamePolicy } from '../../src/state/task-names.js';
import { select, sum, value } from '../helpers/metrics.js';
import { makeCore, testConfig } from './core.js';

const T0 = 1_795_681_000;
const task = (uuid: string, name: string, hostname = 'w@h', queue = 'q') => [
  { type: 'task-sent', uuid, name, queue, hostname: 'gen1@api', timestamp: T0 },
  [
    { type: 'task-received', uuid, name, hostname, timestamp: T0 + 1 },
    { type: 'task-started', uuid, hostname, timestamp: T0 + 1 },
    { type: 'task-succeeded', uuid, hostname, timestamp: T0 + 2, runtime: 1 },
  ],
];

describe('task name policy', () => {
  it('admits the first N names, folds the rest into __other__', () => {
    const p = new TaskNamePolicy({ allow: undefined, deny: undefined, max: 2 });
    expect(['a', 'b', 'c', 'a', 'd'].map((n) => p.resolve(n))).toEqual(['a', 'b', OTHER, 'a', OTHER]);
    expect(p.size).toBe(2);
  });

  it('applies allow and deny as whole-name regexes', () => {
    const p = new TaskNamePolicy({ allow: /^(?:app\..*)$/, deny: /^(?:app\.noisy\..*)$/, max: 0 });
    expect(['app.x', 'app.noisy.y', 'other.z', OTHER].map((n) => p.resolve(n))).toEqual(['app.x', OTHER, OTHER, OTHER]);
  });
});

const WORKER_SIDE = ['received', 'started', 'succeeded', 'failed', 'rejected', 'revoked', 'retried'];

describe('worker-side state counters start at 0', () => {
  it('creates all seven for a (name, hostname, queue) on its first worker event, none for the producer', () => {
    const t = makeCore(testConfig({}));
    for (const m of task('u1', 'app.t')) t.feed(m);
    const s = t.samples();
    for (const state of WORKER_SIDE) {
      const series = select(s, `celery_task_${state}_total`);
      expect(series.map((x) => x.labels['hostname']), state).toEqual(['w@h']);
    }
    expect(value(s, 'celery_task_succeeded_total', { name: 'app.t' })).toBe(1);
    for (const state of ['failed', 'rejected', 'revoked', 'retried']) expect(sum(s, `celery_task_${state}_total`), state).toBe(0);
    // No class is invented: exception="" is, to Prometheus, a series without the label.
    expect(select(s, 'celery_task_failed_total')[0]!.labels['exception']).toBe('');
    // task-sent's hostname is the producer's: it gets only its sent counter.
    expect(select(s, 'celery_task_sent_total').map((x) => x.labels['hostname'])).toEqual(['gen1@api']);
  });

  it('counts the zero series against --max-series, and makes them only while half of it is free', () => {
    const t = makeCore(testConfig({ maxSeries: 150, maxTaskNames: 0 }));
    for (let i = 0; i < 200; i++) for (const m of task(`u${i}`, `app.t${i}`)) t.feed(m);
    const s = t.samples();
    const dropCounters = select(s, 'celery_exporter_series_dropped_total').length;
    expect(value(s, 'celery_exporter_state_entries', { table: 'series' }) - dropCounters).toBeLessThanOrEqual(150);
    // Zeros are never refused (and counted as dropped): past half the budget they are not made.
    expect(sum(s, 'celery_exporter_series_dropped_total', { metric: 'celery_task_revoked_total' })).toBe(0);
    expect(select(s, 'celery_task_revoked_total').length).toBeGreaterThan(0);
    expect(select(s, 'celery_task_revoked_total').length).toBeLessThan(select(s, 'celery_task_succeeded_total').length);
  });
});

describe('cardinality controls in the pipeline', () => {
  it('counts tasks of folded names under __other__, so sums stay right', () => {
    const t = makeCore(testConfig({ maxTaskNames: 3 }));
    for (let i = 0; i < 10; i++) for (const m of task(`u${i}`, `app.t${i}`)) t.feed(m);
    const s = t.samples();
    expect(select(s, 'celery_task_succeeded_total').map((x) => x.labels['name']).sort()).toEqual(['__other__', 'app.t0', 'app.t1', 'app.t2']);
    expect(value(s, 'celery_task_succeeded_total', { name: OTHER })).toBe(7);
    expect(sum(s, 'celery_task_succeeded_total')).toBe(10);
    expect(value(s, 'celery_task_runtime_seconds_count', { name: OTHER })).toBe(7);
    expect(value(s, 'celery_exporter_state_entries', { table: 'task_names' })).toBe(3);
  });

  it('drops the hostname label from task metrics (worker metrics keep it)', () => {
    const t = makeCore(testConfig({ dropLabels: ['hostname'] }));
    for (let i = 0; i < 4; i++) for (const m of task(`u${i}`, 'app.t', `celery@pod-${i}`)) t.feed(m);
    t.feed({ type: 'task-failed', uuid: 'f', hostname: 'celery@pod-9', timestamp: T0, exception: "ValueError('x')" });
    const s = t.samples();
    expect(select(s, 'celery_task_succeeded_total')).toEqual([
      { name: 'celery_task_succeeded_total', labels: { name: 'app.t', queue_name: 'q' }, value: 4 },
      // The failed task's series starts its other state counters at 0.
      { name: 'celery_task_succeeded_total', labels: { name: 'unknown', queue_name: 'unknown' }, value: 0 },
    ]);
    expect(select(s, 'celery_task_failed_total').map((x) => [x.labels, x.value])).toEqual([
      [{ name: 'app.t', exception: '', queue_name: 'q' }, 0],
      [{ name: 'unknown', exception: 'ValueError', queue_name: 'unknown' }, 1],
      [{ name: 'unknown', exception: '', queue_name: 'unknown' }, 0],
    ]);
  });

  it('refuses series beyond --max-series, counts them per metric, and bounds its caches', () => {
    const t = makeCore(testConfig({ maxSeries: 150, maxTaskNames: 0 }));
    for (let i = 0; i < 2000; i++) for (const m of task(`u${i}`, `app.t${i}`, `celery@pod-${i}`)) t.feed(m);
    const s = t.samples();
    // The exporter's own series (the dropped counters themselves) are exempt from the cap.
    const dropCounters = select(s, 'celery_exporter_series_dropped_total').length;
    expect(value(s, 'celery_exporter_state_entries', { table: 'series' }) - dropCounters).toBeLessThanOrEqual(150);
    expect(sum(s, 'celery_exporter_series_dropped_total')).toBeGreaterThan(1000);
    expect(select(s, 'celery_exporter_series_dropped_total').every((x) => x.labels['metric']!.startsWith('celery_'))).toBe(true);
    // Events keep being counted by type even when their series are refused.
    expect(value(s, 'celery_exporter_events_total', { type: 'task-succeeded' })).toBe(2000);
  });

  it('stops tracking new workers beyond --max-workers and counts the refusals', () => {
    const t = makeCore(testConfig({ maxWorkers: 3 }));
    for (let i = 0; i < 10; i++) t.feed({ type: 'worker-heartbeat', hostname: `celery@pod-${i}`, timestamp: T0, freq: 2 });
    const s = t.samples();
    expect(select(s, 'celery_worker_up')).toHaveLength(3);
    expect(value(s, 'celery_exporter_state_rejected_total', { table: 'workers' })).toBe(7);
    expect(value(s, 'celery_exporter_state_entries_limit', { table: 'workers' })).toBe(3);
  });

  it('stops adding queues beyond --max-queues', () => {
    const t = makeCore(testConfig({ maxQueues: 2 }));
    for (let i = 0; i < 5; i++) t.feed({ type: 'task-sent', uuid: `q${i}`, name: 'a', queue: `queue-${i}`, hostname: 'gen@x', timestamp: T0 });
    expect(t.state.queues.size).toBe(2);
    expect(value(t.samples(), 'celery_exporter_state_rejected_total', { table: 'queues' })).toBe(3);
  });
});

describe('label sanitising', () => {
  it('replaces control characters and repairs lone surrogates', () => {
    expect(sanitiseLabelValue('ok.name')).toBe('ok.name');
    expect(sanitiseLabelValue('a\u0000b\u001bc\u007f')).toBe('a\ufffdb\ufffdc\ufffd');
    expect(sanitiseLabelValue('x\ud800y')).toBe('x\ufffdy');
    expect(sanitiseLabelValue('tab\tnewline\n')).toBe('tab\ufffdnewline\n');
  });

  it('keeps the exposition parseable whatever the event says', () => {
    const t = makeCore();
    t.feed({ type: 'task-sent', uuid: 'z', name: 'evil"}\n# HELP x\u0000\ud800', queue: 'q\\"', hostname: 'h\r\n', timestamp: T0 });
    const s = t.samples();
    expect(select(s, 'celery_task_sent_total')[0]!.labels['name']).toBe('evil"}\n# HELP x\ufffd\ufffd');
  });
});
