import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { globRegex, parseInterval, parsePeriodicTasks } from '../../src/config/periodic.js';
import { select, value } from '../helpers/metrics.js';
import { makeCore, testConfig } from './core.js';

const T0 = 1_795_681_000;
const sent = (uuid: string, name: string) => ({
  type: 'task-sent', uuid, name, queue: 'default', routing_key: 'default', hostname: 'beat@sched', timestamp: T0, eta: null,
});
const ev = (type: string, uuid: string, timestamp: number, extra: Record<string, unknown> = {}) => ({
  type, uuid, hostname: 'w1@host', timestamp, ...extra,
});
/** One task run: sent, received, started, then succeeded or failed at `end`. */
const run = (uuid: string, name: string, end: number, outcome: 'task-succeeded' | 'task-failed') => [
  sent(uuid, name),
  ev('task-received', uuid, end - 2, { name }),
  ev('task-started', uuid, end - 1),
  ev(outcome, uuid, end, outcome === 'task-succeeded' ? { runtime: 1 } : { exception: "ValueError('x')" }),
];

describe('--periodic-task parsing', () => {
  it('reads intervals with units, sums of them and bare seconds', () => {
    expect(parseInterval('f', '30s')).toBe(30);
    expect(parseInterval('f', '5m')).toBe(300);
    expect(parseInterval('f', '1h')).toBe(3600);
    expect(parseInterval('f', '1d')).toBe(86_400);
    expect(parseInterval('f', '1h30m')).toBe(5400);
    expect(parseInterval('f', '90')).toBe(90);
    for (const bad of ['', '0s', 'h', '5x', '-1m', '1 h']) expect(() => parseInterval('f', bad)).toThrow(ConfigError);
  });

  it('applies the default tolerance, a global one and per-task ones; the last declaration wins', () => {
    expect(parsePeriodicTasks(['a=1h', 'reports.*=1d'], [])).toEqual([
      { pattern: 'a', interval: 3600, tolerance: 1.5 },
      { pattern: 'reports.*', interval: 86_400, tolerance: 1.5 },
    ]);
    expect(parsePeriodicTasks(['a=1h', 'b=5m', 'a=2h'], ['2', 'b=3'])).toEqual([
      { pattern: 'a', interval: 7200, tolerance: 2 },
      { pattern: 'b', interval: 300, tolerance: 3 },
    ]);
  });

  it('rejects malformed declarations with the flag named', () => {
    expect(() => parsePeriodicTasks(['nameonly'], [])).toThrow(/--periodic-task: expected NAME=VALUE/);
    expect(() => parsePeriodicTasks(['a='], [])).toThrow(/--periodic-task/);
    expect(() => parsePeriodicTasks(['a=1h'], ['0.5'])).toThrow(/--periodic-task-tolerance: .*≥ 1/);
    expect(() => parsePeriodicTasks(['a=1h'], ['b=2'])).toThrow(/"b" is not declared/);
    expect(() => parsePeriodicTasks([{ a: '1h' }], [])).toThrow(/list of "NAME=VALUE" strings/);
  });

  it('matches globs on whole names, dots literal', () => {
    const re = globRegex('reports.*');
    expect(re.test('reports.daily')).toBe(true);
    expect(re.test('reportsXdaily')).toBe(false);
    expect(re.test('app.reports.daily')).toBe(false);
    expect(globRegex('job-?').test('job-1')).toBe(true);
  });
});

describe('last success and failure per task name', () => {
  const cfg = testConfig({ periodicTasks: parsePeriodicTasks(['app.nightly=1d', 'reports.*=1h', 'app.never=5m'], ['app.never=3']) });

  it('exports the worker event times per name, declared intervals, tolerances and the start time', () => {
    const t = makeCore(cfg);
    t.feed(run('n1', 'app.nightly', T0 + 10, 'task-succeeded'));
    t.feed(run('n2', 'app.nightly', T0 + 20, 'task-failed'));
    t.feed(run('r1', 'reports.daily', T0 + 30, 'task-succeeded'));
    t.feed(run('x1', 'app.other', T0 + 40, 'task-succeeded'));
    const s = t.samples();
    expect(value(s, 'celery_task_last_succeeded_timestamp_seconds', { name: 'app.nightly' })).toBe(T0 + 10);
    expect(value(s, 'celery_task_last_failed_timestamp_seconds', { name: 'app.nightly' })).toBe(T0 + 20);
    expect(value(s, 'celery_task_last_succeeded_timestamp_seconds', { name: 'reports.daily' })).toBe(T0 + 30);
    expect(value(s, 'celery_task_last_succeeded_timestamp_seconds', { name: 'app.other' })).toBe(T0 + 40);
    // Declared names from the start (app.never has not run), glob matches once seen, others not.
    expect(select(s, 'celery_task_expected_interval_seconds').map((x) => [x.labels['name'], x.value]).sort()).toEqual([
      ['app.never', 300],
      ['app.nightly', 86_400],
      ['reports.daily', 3600],
    ]);
    expect(value(s, 'celery_task_expected_interval_tolerance_ratio', { name: 'app.never' })).toBe(3);
    expect(value(s, 'celery_task_expected_interval_tolerance_ratio', { name: 'reports.daily' })).toBe(1.5);
    expect(value(s, 'celery_exporter_start_time_seconds')).toBe(1_795_681_000);
  });

  it('never steps back when workers report out of order, and ignores tasks without a name', () => {
    const t = makeCore(cfg);
    t.feed(run('a', 'app.nightly', T0 + 50, 'task-succeeded'));
    t.feed(run('b', 'app.nightly', T0 + 40, 'task-succeeded'));
    t.feed(ev('task-succeeded', 'nameless', T0 + 60, { runtime: 1 }));
    t.advance(2000); // flush events held for a task-sent that never comes
    const s = t.samples();
    expect(value(s, 'celery_task_last_succeeded_timestamp_seconds', { name: 'app.nightly' })).toBe(T0 + 50);
    expect(select(s, 'celery_task_last_succeeded_timestamp_seconds', { name: 'unknown' })).toEqual([]);
  });

  it('survives the purge of the worker that ran the task', () => {
    const t = makeCore(cfg);
    t.feed(run('a', 'app.nightly', T0 + 5, 'task-succeeded'));
    t.state.purgeHostname('w1@host');
    const s = t.samples();
    expect(select(s, 'celery_task_succeeded_total', { hostname: 'w1@host' })).toEqual([]);
    expect(value(s, 'celery_task_last_succeeded_timestamp_seconds', { name: 'app.nightly' })).toBe(T0 + 5);
  });

  it('is bounded by --max-task-names (later names fold into __other__)', () => {
    const t = makeCore(testConfig({ maxTaskNames: 2 }));
    for (let i = 0; i < 5; i++) t.feed(run(`u${i}`, `app.t${i}`, T0 + i, 'task-succeeded'));
    const names = select(t.samples(), 'celery_task_last_succeeded_timestamp_seconds').map((x) => x.labels['name']).sort();
    expect(names).toEqual(['__other__', 'app.t0', 'app.t1']);
  });
});

describe('revoke and reject reasons', () => {
  it('counts terminated, expired and plain revokes, and requeue vs discard rejects, beside the drop-in counters', () => {
    const t = makeCore();
    t.feed([sent('t1', 'app.long'), ev('task-received', 't1', T0 + 1, { name: 'app.long' }), ev('task-started', 't1', T0 + 2)]);
    t.feed(ev('task-revoked', 't1', T0 + 3, { terminated: true, signum: 15, expired: false }));
    t.feed([sent('e1', 'app.add'), ev('task-revoked', 'e1', T0 + 3, { terminated: false, signum: null, expired: true })]);
    t.feed([sent('r1', 'app.add'), ev('task-revoked', 'r1', T0 + 3, { terminated: false, signum: null, expired: false })]);
    t.feed([sent('j1', 'app.rej'), ev('task-received', 'j1', T0 + 1, { name: 'app.rej' }), ev('task-rejected', 'j1', T0 + 2, { requeue: false })]);
    t.feed([sent('j2', 'app.rej'), ev('task-received', 'j2', T0 + 1, { name: 'app.rej' }), ev('task-rejected', 'j2', T0 + 2, { requeue: true })]);
    const s = t.samples();
    expect(value(s, 'celery_task_revocations_total', { name: 'app.long', reason: 'terminated' })).toBe(1);
    expect(value(s, 'celery_task_revocations_total', { name: 'app.add', reason: 'expired' })).toBe(1);
    expect(value(s, 'celery_task_revocations_total', { name: 'app.add', reason: 'revoked' })).toBe(1);
    expect(value(s, 'celery_task_rejections_total', { name: 'app.rej', reason: 'discard' })).toBe(1);
    expect(value(s, 'celery_task_rejections_total', { name: 'app.rej', reason: 'requeue' })).toBe(1);
    // The drop-in counters are unchanged: no reason label, same totals.
    expect(select(s, 'celery_task_revoked_total').every((x) => !('reason' in x.labels))).toBe(true);
    expect(select(s, 'celery_task_revoked_total').reduce((a, x) => a + x.value, 0)).toBe(3);
    expect(select(s, 'celery_task_rejected_total').reduce((a, x) => a + x.value, 0)).toBe(2);
  });
});
