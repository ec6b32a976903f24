import { describe, expect, it } from 'vitest';
import { select, value } from '../helpers/metrics.js';
import { makeCore, testConfig } from './core.js';

const T0 = 1_795_681_000;
const sent = (uuid: string, ts: number, queue = 'default', name = 'app.add') => ({
  type: 'task-sent', uuid, name, queue, routing_key: queue, hostname: 'gen1@api', timestamp: ts, eta: null,
});
const ev = (type: string, uuid: string, timestamp: number, extra: Record<string, unknown> = {}) => ({
  type, uuid, hostname: 'w1@host', timestamp, ...extra,
});
const PENDING = 'celery_queue_oldest_pending_age_seconds';
const ACTIVE = 'celery_task_oldest_active_age_seconds';
const OVER = 'celery_tasks_running_longer_than_threshold';

describe('oldest pending age', () => {
  it('is the age of the oldest task sent and not yet received, 0 once every task was taken', () => {
    const t = makeCore();
    t.feed(sent('u1', T0));
    t.feed(sent('u2', T0 + 5));
    t.clock.now = (T0 + 10) * 1000;
    expect(value(t.samples(), PENDING, { queue_name: 'default' })).toBe(10);
    t.feed(ev('task-received', 'u1', T0 + 11, { name: 'app.add' }));
    t.clock.now = (T0 + 12) * 1000;
    expect(value(t.samples(), PENDING, { queue_name: 'default' })).toBe(7);
    t.feed(ev('task-received', 'u2', T0 + 12, { name: 'app.add' }));
    expect(value(t.samples(), PENDING, { queue_name: 'default' })).toBe(0);
  });

  it('keeps queues apart and clamps producer clocks ahead of the exporter at 0', () => {
    const t = makeCore();
    t.feed(sent('a', T0 - 30, 'qa'));
    t.feed(sent('b', T0 + 20, 'qb')); // producer clock 20 s ahead
    const s = t.samples();
    expect(value(s, PENDING, { queue_name: 'qa' })).toBe(30);
    expect(value(s, PENDING, { queue_name: 'qb' })).toBe(0);
  });

  it('has no series for a queue that never had a task-sent event (configured, or worker-side only)', () => {
    const t = makeCore(testConfig({}, {}, { names: ['configured'] }));
    t.feed([ev('task-received', 'u9', T0, { name: 'app.mul' }), ev('task-started', 'u9', T0)]);
    const s = t.samples();
    expect(select(s, PENDING)).toHaveLength(0);
  });

  it('counts a retried task as pending again until its retry is received', () => {
    const t = makeCore();
    t.feed(sent('r', T0));
    t.feed([ev('task-received', 'r', T0 + 1, { name: 'app.add' }), ev('task-started', 'r', T0 + 1)]);
    t.feed(sent('r', T0 + 2));
    t.feed(ev('task-retried', 'r', T0 + 2, { exception: 'E()' }));
    t.clock.now = (T0 + 6) * 1000;
    expect(value(t.samples(), PENDING, { queue_name: 'default' })).toBe(4);
  });
});

describe('oldest active age and the long-running threshold', () => {
  it('follows the longest-running task per name and queue and disappears when none runs', () => {
    const t = makeCore(testConfig({ longRunningTaskThreshold: 60 }));
    t.feed(sent('s1', T0, 'slow', 'app.sleep'));
    t.feed([ev('task-received', 's1', T0, { name: 'app.sleep' }), ev('task-started', 's1', T0 + 1)]);
    t.feed(sent('s2', T0 + 80, 'slow', 'app.sleep'));
    t.feed([ev('task-received', 's2', T0 + 80, { name: 'app.sleep' }), ev('task-started', 's2', T0 + 90)]);
    t.clock.now = (T0 + 100) * 1000;
    let s = t.samples();
    const l = { name: 'app.sleep', queue_name: 'slow' };
    expect(value(s, ACTIVE, l)).toBe(99);
    expect(value(s, OVER, l)).toBe(1);
    t.feed(ev('task-succeeded', 's1', T0 + 100, { runtime: 99 }));
    s = t.samples();
    expect(value(s, ACTIVE, l)).toBe(10);
    expect(value(s, OVER, l)).toBe(0);
    t.feed(ev('task-failed', 's2', T0 + 100, { exception: 'ValueError()' }));
    s = t.samples();
    expect(select(s, ACTIVE)).toHaveLength(0);
    expect(select(s, OVER)).toHaveLength(0);
  });

  it('exports no threshold series when the threshold is 0', () => {
    const t = makeCore(testConfig({ longRunningTaskThreshold: 0 }));
    t.feed(sent('s1', T0));
    t.feed([ev('task-received', 's1', T0, { name: 'app.add' }), ev('task-started', 's1', T0)]);
    t.clock.now = (T0 + 5000) * 1000;
    const s = t.samples();
    expect(value(s, ACTIVE, { name: 'app.add', queue_name: 'default' })).toBe(5000);
    expect(select(s, OVER)).toHaveLength(0);
  });

  it('stops counting the tasks of a worker that went offline', () => {
    const t = makeCore();
    t.feed({ type: 'worker-online', hostname: 'w1@host', timestamp: T0, freq: 2 });
    t.feed({ type: 'worker-online', hostname: 'w2@host', timestamp: T0, freq: 2 });
    t.feed(sent('a', T0));
    t.feed([ev('task-received', 'a', T0, { name: 'app.add' }), ev('task-started', 'a', T0)]);
    t.feed(sent('b', T0));
    t.feed([
      { ...ev('task-received', 'b', T0, { name: 'app.add' }), hostname: 'w2@host' },
      { ...ev('task-started', 'b', T0 + 3), hostname: 'w2@host' },
    ]);
    t.clock.now = (T0 + 4) * 1000;
    expect(value(t.samples(), ACTIVE, { name: 'app.add', queue_name: 'default' })).toBe(4);
    t.feed({ type: 'worker-offline', hostname: 'w1@host', timestamp: T0 + 4 });
    // w2's task still runs; w1's is no longer counted.
    expect(value(t.samples(), ACTIVE, { name: 'app.add', queue_name: 'default' })).toBe(1);
  });

  it('stops counting the tasks of a worker whose heartbeats stopped', () => {
    const t = makeCore();
    t.feed({ type: 'worker-heartbeat', hostname: 'w1@host', timestamp: T0, freq: 2, active: 1 });
    t.feed(sent('a', T0));
    t.feed([ev('task-received', 'a', T0, { name: 'app.add' }), ev('task-started', 'a', T0)]);
    t.advance(2000);
    expect(value(t.samples(), ACTIVE, { name: 'app.add', queue_name: 'default' })).toBe(2);
    t.advance(5000); // > 2 × freq without a heartbeat
    expect(value(t.samples(), 'celery_worker_up', { hostname: 'w1@host' })).toBe(0);
    expect(select(t.samples(), ACTIVE)).toHaveLength(0);
    // A late success still counts, with its labels.
    t.feed(ev('task-succeeded', 'a', T0 + 8, { runtime: 8 }));
    expect(value(t.samples(), 'celery_task_succeeded_total', { name: 'app.add', queue_name: 'default', hostname: 'w1@host' })).toBe(1);
  });
});
