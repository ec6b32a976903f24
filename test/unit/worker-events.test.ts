import { describe, expect, it } from 'vitest';
import { select, value } from '../helpers/metrics.js';
import { makeCore, testConfig } from './core.js';

/** Worker events through the pipeline: liveness, the timeout, the purge, the info series. */
const T0 = 1_795_681_000;
const sent = (uuid: string, extra: Record<string, unknown> = {}) => ({
  type: 'task-sent', uuid, name: 'app.add', queue: 'default', routing_key: 'default', hostname: 'gen1@api', timestamp: T0, eta: null, ...extra,
});
const ev = (type: string, uuid: string, timestamp: number, extra: Record<string, unknown> = {}) => ({
  type, uuid, hostname: 'w1@host', timestamp, ...extra,
});

describe('workers', () => {
  const hb = (hostname: string, extra: Record<string, unknown> = {}) => ({
    type: 'worker-heartbeat', hostname, timestamp: T0, freq: 2, active: 3, processed: 40, loadavg: [0.5, 0.4, 0.3],
    sw_ident: 'py-celery', sw_ver: '5.2.6', sw_sys: 'Linux', ...extra,
  });

  it('goes down after 2 × freq without heartbeats, up again on the next one', () => {
    const t = makeCore();
    t.feed(hb('w@h'));
    expect(value(t.samples(), 'celery_worker_up', { hostname: 'w@h' })).toBe(1);
    expect(value(t.samples(), 'celery_worker_tasks_active', { hostname: 'w@h' })).toBe(3);
    t.advance(4000);
    expect(value(t.samples(), 'celery_worker_up', { hostname: 'w@h' })).toBe(1);
    t.advance(1000);
    expect(value(t.samples(), 'celery_worker_up', { hostname: 'w@h' })).toBe(0);
    expect(value(t.samples(), 'celery_worker_tasks_active', { hostname: 'w@h' })).toBe(0);
    t.feed(hb('w@h'));
    expect(value(t.samples(), 'celery_worker_up', { hostname: 'w@h' })).toBe(1);
  });

  it('honours --worker-timeout, and 0 means never', () => {
    const t = makeCore(testConfig({}, { timeout: 30 }));
    t.feed(hb('w@h'));
    t.advance(29_000);
    expect(value(t.samples(), 'celery_worker_up', { hostname: 'w@h' })).toBe(1);
    t.advance(2000);
    expect(value(t.samples(), 'celery_worker_up', { hostname: 'w@h' })).toBe(0);
    const never = makeCore(testConfig({}, { timeout: 0, purgeAfter: 0 }));
    never.feed(hb('w@h'));
    never.advance(3_600_000);
    expect(value(never.samples(), 'celery_worker_up', { hostname: 'w@h' })).toBe(1);
  });

  it('purges every series of the hostname, exact match only, producers too', () => {
    const t = makeCore(testConfig({}, { purgeAfter: 60 }));
    t.feed(hb('w@h'));
    t.feed(hb('w@h2'));
    t.feed(sent('p1', { hostname: 'gen1@api' }));
    t.feed([ev('task-received', 'p1', T0, { name: 'app.add' }), ev('task-started', 'p1', T0), ev('task-succeeded', 'p1', T0, { runtime: 1 })]);
    // A task whose *name* equals the hostname must survive (the Python exporter's purge matched any label).
    t.feed({ ...sent('p2', { name: 'w@h', hostname: 'gen1@api' }) });
    t.feed({ type: 'worker-offline', hostname: 'w@h', timestamp: T0 });
    for (let i = 0; i < 70; i++) {
      t.advance(1000);
      t.feed(hb('w@h2'));
    }
    const s = t.samples();
    expect(s.filter((x) => x.labels['hostname'] === 'w@h')).toHaveLength(0);
    expect(s.filter((x) => x.labels['hostname'] === 'gen1@api')).toHaveLength(0);
    expect(value(s, 'celery_worker_up', { hostname: 'w@h2' })).toBe(1);
    expect(select(s, 'celery_task_runtime_seconds_count', { name: 'app.add' })).toHaveLength(1);
    // New events for a purged host bring it back from zero.
    t.feed(hb('w@h'));
    expect(value(t.samples(), 'celery_worker_up', { hostname: 'w@h' })).toBe(1);
  });

  it('keeps the last known values when a heartbeat lacks active/processed/loadavg (remote heartbeat command)', () => {
    const t = makeCore();
    t.feed(hb('w@h'));
    t.feed({ type: 'worker-heartbeat', hostname: 'w@h', timestamp: T0 + 1, freq: 5, sw_ident: 'py-celery', sw_ver: '5.2.6', sw_sys: 'Linux' });
    const s = t.samples();
    expect(value(s, 'celery_worker_tasks_processed', { hostname: 'w@h' })).toBe(40);
    expect(value(s, 'celery_worker_load_average', { hostname: 'w@h', period: '1m' })).toBe(0.5);
  });

  it('replaces the info series when the worker software changes', () => {
    const t = makeCore();
    t.feed(hb('w@h'));
    t.feed(hb('w@h', { sw_ver: '5.3.0' }));
    const info = select(t.samples(), 'celery_worker_info', { hostname: 'w@h' });
    expect(info.map((i) => i.labels['sw_ver'])).toEqual(['5.3.0']);
  });

  it('strips the node-name prefix only when asked', () => {
    const t = makeCore(testConfig({}, { stripHostnamePrefix: true }));
    t.feed(hb('celery@box'));
    expect(value(t.samples(), 'celery_worker_up', { hostname: 'box' })).toBe(1);
  });
});
