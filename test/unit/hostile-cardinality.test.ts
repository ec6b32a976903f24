import { describe, expect, it } from 'vitest';
import { select, sum, value } from '../helpers/metrics.js';
import { makeCore, testConfig } from './core.js';

const T0 = 1_795_681_000;
const failed = (i: number, exception: string, hostname = 'w@h') => ({ type: 'task-failed', uuid: `f${i}`, hostname, timestamp: T0, exception: `${exception}('x')` });
const legit = (uuid: string) => [
  { type: 'task-sent', uuid, name: 'app.new_task', queue: 'new_queue', hostname: 'api@h', timestamp: T0 },
  { type: 'task-received', uuid, name: 'app.new_task', hostname: 'new-worker@h', timestamp: T0 + 1 },
  { type: 'worker-heartbeat', hostname: 'new-worker@h', timestamp: T0, freq: 2 },
];

describe('one hostile label cannot fill --max-series', () => {
  it('folds exception classes beyond --max-exception-classes into __other__', () => {
    const t = makeCore(testConfig({ maxSeries: 2000, maxExceptionClasses: 100 }));
    for (let i = 0; i < 20_000; i++) t.feed(failed(i, `Forged${i}Error`));
    for (const m of legit('n1')) t.feed(m);
    const s = t.samples();
    // 100 classes and __other__; the zero-started exception="" series of the two (name, host) pairs do not count.
    expect(select(s, 'celery_task_failed_total').filter((x) => x.labels['exception'] !== '')).toHaveLength(101);
    expect(value(s, 'celery_task_failed_total', { exception: '__other__' })).toBe(19_900);
    expect(sum(s, 'celery_task_failed_total')).toBe(20_000);
    // The legitimate task, queue and worker that came after the flood have their series.
    expect(value(s, 'celery_task_sent_total', { name: 'app.new_task', queue_name: 'new_queue' })).toBe(1);
    expect(value(s, 'celery_task_received_total', { name: 'app.new_task', hostname: 'new-worker@h' })).toBe(1);
    expect(value(s, 'celery_worker_up', { hostname: 'new-worker@h' })).toBe(1);
    expect(sum(s, 'celery_exporter_series_dropped_total')).toBe(0);
  });

  it('keeps headroom: one family holds at most half of --max-series (flood of hostnames on task-failed)', () => {
    const t = makeCore(testConfig({ maxSeries: 2000, maxExceptionClasses: 0 }));
    for (let i = 0; i < 20_000; i++) t.feed(failed(i, `Forged${i}Error`, `h${i}`));
    for (const m of legit('n1')) t.feed(m);
    const s = t.samples();
    expect(select(s, 'celery_task_failed_total').length).toBeLessThanOrEqual(1000);
    expect(value(s, 'celery_exporter_series_dropped_total', { metric: 'celery_task_failed_total' })).toBeGreaterThan(18_000);
    expect(value(s, 'celery_task_sent_total', { name: 'app.new_task', queue_name: 'new_queue' })).toBe(1);
    expect(value(s, 'celery_worker_up', { hostname: 'new-worker@h' })).toBe(1);
  });
});
