import { describe, expect, it } from 'vitest';
import { select, sum, value } from '../helpers/metrics.js';
import { makeCore, testConfig } from './core.js';
import { capturedRedisMessages } from './fixtures.js';
import { decodeEnvelope } from '../../src/decoder/envelope.js';

const T0 = 1_795_681_000;
const sent = (uuid: string, extra: Record<string, unknown> = {}) => ({
  type: 'task-sent', uuid, name: 'app.add', queue: 'default', routing_key: 'default', hostname: 'gen1@api', timestamp: T0, eta: null, ...extra,
});
const ev = (type: string, uuid: string, timestamp: number, extra: Record<string, unknown> = {}) => ({
  type, uuid, hostname: 'w1@host', timestamp, ...extra,
});

describe('replaying the captured stream of a real worker', () => {
  it('yields the workload’s exact counts', () => {
    const t = makeCore();
    for (const m of capturedRedisMessages()) t.pipeline.onBody(decodeEnvelope(m.data));
    const s = t.samples();
    const w = { hostname: 'w1@probe' };
    expect(value(s, 'celery_task_succeeded_total', { ...w, name: 'tests.add', queue_name: 'qa' })).toBe(5);
    expect(value(s, 'celery_task_succeeded_total', { ...w, name: 'tests.add', queue_name: 'high-priority' })).toBe(3);
    expect(value(s, 'celery_task_failed_total', { ...w, name: 'tests.fail_value', exception: 'ValueError' })).toBe(2);
    expect(value(s, 'celery_task_failed_total', { ...w, name: 'tests.fail_key', exception: 'KeyError' })).toBe(1);
    expect(value(s, 'celery_task_retried_total', { ...w, name: 'tests.retry_once' })).toBe(1);
    expect(value(s, 'celery_task_revoked_total', { ...w, name: 'tests.add', queue_name: 'high-priority' })).toBe(1);
    expect(value(s, 'celery_task_rejected_total', { ...w, name: 'tests.reject' })).toBe(1);
    expect(sum(s, 'celery_task_sent_total')).toBe(15);
    expect(value(s, 'celery_worker_up', w)).toBe(0); // the capture ends with worker-offline
    expect(sum(s, 'celery_exporter_events_invalid_total')).toBe(0);
    expect(value(s, 'celery_exporter_tracked_tasks')).toBe(0);
    // The retry's queue wait is measured from its own task-sent (which precedes task-retried).
    expect(value(s, 'celery_task_queue_wait_seconds_count', { name: 'tests.retry_once', queue_name: 'qa' })).toBe(2);
  });
});

describe('task events', () => {
  it('carries name and queue from task-sent to later events', () => {
    const t = makeCore();
    t.feed(sent('u1'));
    t.feed([ev('task-received', 'u1', T0 + 1, { name: 'app.add' }), ev('task-started', 'u1', T0 + 1.5)]);
    t.feed(ev('task-succeeded', 'u1', T0 + 2, { runtime: 0.5 }));
    const s = t.samples();
    const l = { name: 'app.add', queue_name: 'default' };
    expect(value(s, 'celery_task_started_total', { ...l, hostname: 'w1@host' })).toBe(1);
    expect(value(s, 'celery_task_runtime_seconds_sum', { ...l, state: 'succeeded' })).toBe(0.5);
    expect(value(s, 'celery_task_queue_wait_seconds_sum', l)).toBe(1.5);
    expect(value(s, 'celery_task_prefetch_wait_seconds_sum', l)).toBe(0.5);
    expect(value(s, 'celery_task_latency_seconds_sum', l)).toBe(2);
  });

  it('labels the queue "unknown" when no task-sent was seen, never a guess', () => {
    const t = makeCore();
    t.feed([ev('task-received', 'u2', T0, { name: 'app.mul' }), ev('task-started', 'u2', T0)]);
    t.advance(2000); // a first-seen name waits one reorder window for a task-sent that never comes
    const s = t.samples();
    expect(value(s, 'celery_task_received_total', { name: 'app.mul', queue_name: 'unknown' })).toBe(1);
    expect(select(s, 'celery_task_queue_wait_seconds_count')).toHaveLength(0);
  });

  it('measures the failed runtime from started to failed', () => {
    const t = makeCore();
    t.feed(sent('u3'));
    t.feed([ev('task-started', 'u3', T0 + 1), ev('task-failed', 'u3', T0 + 4, { exception: "ValueError('x')" })]);
    expect(value(t.samples(), 'celery_task_runtime_seconds_sum', { state: 'failed' })).toBe(3);
  });

  it('survives a null, negative or string runtime (falls back to timestamps)', () => {
    const t = makeCore();
    for (const [i, runtime] of [null, -1, 'fast', NaN].entries()) {
      t.feed([ev('task-started', `r${i}`, T0, { name: 'x' }), ev('task-succeeded', `r${i}`, T0 + 2, { runtime })]);
    }
    t.feed(ev('task-succeeded', 'r9', T0, { runtime: null })); // nothing to fall back to
    const s = t.samples();
    expect(sum(s, 'celery_task_succeeded_total')).toBe(5);
    expect(value(s, 'celery_task_runtime_seconds_count', { state: 'succeeded', name: 'unknown' })).toBe(4);
    expect(value(s, 'celery_task_runtime_seconds_sum', { state: 'succeeded', name: 'unknown' })).toBe(8);
  });

  it('counts a succeeded that arrives before received, and keeps no record afterwards', () => {
    const t = makeCore();
    t.feed(ev('task-succeeded', 'u4', T0 + 2, { runtime: 1 }));
    t.feed(ev('task-received', 'u4', T0, { name: 'app.add' }));
    t.advance(2000); // the received of a first-seen name waits one reorder window
    const s = t.samples();
    expect(sum(s, 'celery_task_succeeded_total')).toBe(1);
    expect(sum(s, 'celery_task_received_total')).toBe(1);
    // The stray late record is bounded by the TTL.
    expect(t.state.tracker.size).toBe(1);
    t.advance(3_601_000);
    expect(t.state.tracker.size).toBe(0);
    expect(value(t.samples(), 'celery_exporter_tracked_tasks_evicted_total', { reason: 'ttl' })).toBe(1);
  });

  it('holds worker events that overtake their task-sent, so they get its queue', () => {
    const t = makeCore();
    t.feed(sent('a'));
    t.feed([ev('task-received', 'b', T0 + 1, { name: 'app.add' }), ev('task-started', 'b', T0 + 1.1)]);
    expect(t.state.tasks.heldCount).toBe(1);
    t.feed(sent('b'));
    expect(t.state.tasks.heldCount).toBe(0);
    const s = t.samples();
    expect(value(s, 'celery_task_received_total', { name: 'app.add', queue_name: 'default' })).toBe(1);
    expect(value(s, 'celery_task_started_total', { name: 'app.add', queue_name: 'default' })).toBe(1);
    expect(value(s, 'celery_task_queue_wait_seconds_count', { name: 'app.add', queue_name: 'default' })).toBe(1);
  });

  it('holds a revoke that overtakes its task-sent (revoked before received)', () => {
    const t = makeCore();
    t.feed(sent('a'));
    t.feed(ev('task-revoked', 'r', T0 + 1, { terminated: false, expired: false }));
    t.feed(sent('r', { queue: 'other' }));
    expect(value(t.samples(), 'celery_task_revoked_total', { name: 'app.add', queue_name: 'other' })).toBe(1);
    expect(t.state.tracker.size).toBe(1); // only 'a' is still in flight
  });

  it('does not hold events when no producer sends task-sent', () => {
    const t = makeCore();
    t.feed(ev('task-revoked', 'r', T0));
    expect(value(t.samples(), 'celery_task_revoked_total', { name: 'unknown' })).toBe(1);
  });

  it('releases held events after the window when task-sent never comes', () => {
    const t = makeCore();
    t.feed(sent('a'));
    t.feed(ev('task-received', 'c', T0 + 1, { name: 'app.add' }));
    expect(sum(t.samples(), 'celery_task_received_total')).toBe(0);
    t.advance(2000);
    expect(value(t.samples(), 'celery_task_received_total', { name: 'app.add', queue_name: 'unknown' })).toBe(1);
  });

  it('also holds the first task of a name not seen in task-sent yet, and a task-revoked (which names nothing)', () => {
    const t = makeCore();
    t.feed(sent('a'));
    t.feed(ev('task-received', 'n1', T0 + 1, { name: 'app.other' }));
    t.feed(ev('task-revoked', 'r1', T0 + 1, { terminated: false, expired: false }));
    expect(t.state.tasks.heldCount).toBe(2);
    t.feed(sent('n1', { name: 'app.other', queue: 'q2' }));
    t.feed(sent('r1', { queue: 'q3' }));
    const s = t.samples();
    expect(value(s, 'celery_task_received_total', { name: 'app.other', queue_name: 'q2' })).toBe(1);
    expect(value(s, 'celery_task_revoked_total', { name: 'app.add', queue_name: 'q3' })).toBe(1);
    expect(value(s, 'celery_exporter_tracked_tasks')).toBe(2); // 'a' and 'n1' are in flight, the revoked one is done
  });

  it('stops holding a name whose held events timed out without task-sent', () => {
    const t = makeCore();
    t.feed(sent('a'));
    t.feed(ev('task-received', 'x1', T0 + 1, { name: 'app.nosent' }));
    expect(t.state.tasks.heldCount).toBe(1);
    t.advance(2000);
    t.feed(ev('task-received', 'x2', T0 + 3, { name: 'app.nosent' }));
    expect(t.state.tasks.heldCount).toBe(0);
    expect(value(t.samples(), 'celery_task_received_total', { name: 'app.nosent', queue_name: 'unknown' })).toBe(2);
  });

  it('without task-sent, holds the first task of a name once, then never again', () => {
    const t = makeCore();
    t.feed(ev('task-received', 'y1', T0, { name: 'app.add' }));
    expect(t.state.tasks.heldCount).toBe(1);
    t.advance(2000);
    t.feed(ev('task-received', 'y2', T0 + 2, { name: 'app.add' }));
    t.feed(ev('task-revoked', 'y3', T0 + 2));
    expect(t.state.tasks.heldCount).toBe(0);
    expect(value(t.samples(), 'celery_task_received_total', { name: 'app.add', queue_name: 'unknown' })).toBe(2);
  });

  it('excludes the ETA from queue wait and prefetch wait', () => {
    const t = makeCore();
    const eta = new Date((T0 + 60) * 1000).toISOString();
    t.feed(sent('e', { eta }));
    t.feed([ev('task-received', 'e', T0 + 0.1, { name: 'app.add', eta }), ev('task-started', 'e', T0 + 60.5)]);
    const s = t.samples();
    expect(value(s, 'celery_task_queue_wait_seconds_sum')).toBeCloseTo(0.5, 6);
    expect(value(s, 'celery_task_prefetch_wait_seconds_sum')).toBeCloseTo(0.5, 6);
  });

  it('clamps a negative cross-host queue wait (clock skew) to 0', () => {
    const t = makeCore();
    t.feed(sent('k', { timestamp: T0 + 5 }));
    t.feed(ev('task-started', 'k', T0));
    expect(value(t.samples(), 'celery_task_queue_wait_seconds_sum')).toBe(0);
  });

  it('evicts the oldest in-flight task beyond the cap and counts it', () => {
    const t = makeCore(testConfig({ maxTrackedTasks: 3 }));
    for (const u of ['1', '2', '3', '4', '5']) t.feed(sent(u));
    expect(t.state.tracker.size).toBe(3);
    expect(value(t.samples(), 'celery_exporter_tracked_tasks_evicted_total', { reason: 'capacity' })).toBe(2);
  });

  it('cuts long label values', () => {
    const t = makeCore(testConfig({ maxLabelLength: 10 }));
    t.feed(sent('l', { name: 'a'.repeat(50), queue: 'q'.repeat(50) }));
    expect(select(t.samples(), 'celery_task_sent_total')[0]!.labels).toMatchObject({ name: 'a'.repeat(10), queue_name: 'q'.repeat(10) });
  });
});

describe('bad input', () => {
  it('counts what it skips by reason and never throws', () => {
    const t = makeCore();
    t.feed({ type: 'task-sent' }); // no uuid
    t.feed({ type: 'worker-heartbeat' }); // no hostname
    t.feed({ type: 'worker-elect', hostname: 'x' });
    t.feed({ hostname: 'x' });
    t.feed([1, 'two', null, [], { type: 7 }]);
    t.pipeline.onBody(decodeEnvelope('garbage'));
    t.feed({ type: 'task-succeeded', uuid: 'x'.repeat(300) });
    const s = t.samples();
    expect(value(s, 'celery_exporter_events_invalid_total', { reason: 'missing_field' })).toBe(2);
    expect(value(s, 'celery_exporter_events_invalid_total', { reason: 'unknown_type' })).toBe(1);
    expect(value(s, 'celery_exporter_events_invalid_total', { reason: 'shape' })).toBe(6);
    expect(value(s, 'celery_exporter_events_invalid_total', { reason: 'envelope' })).toBe(1);
    expect(value(s, 'celery_exporter_events_invalid_total', { reason: 'bad_value' })).toBe(1);
    expect(sum(s, 'celery_exporter_events_total')).toBe(0);
  });

  it('keeps what was counted when bad messages follow', () => {
    const t = makeCore();
    t.feed(sent('ok'));
    t.pipeline.onBody(decodeEnvelope('{"body": "!!!!", "content-type": "application/json", "properties": {"body_encoding": "base64"}}'));
    t.feed({ type: 'task-sent', uuid: 'z', name: 12, queue: { a: 1 }, timestamp: 'soon' });
    const s = t.samples();
    expect(value(s, 'celery_task_sent_total', { name: 'app.add' })).toBe(1);
    expect(value(s, 'celery_task_sent_total', { name: 'unknown', queue_name: 'unknown' })).toBe(1);
    expect(value(s, 'celery_exporter_events_invalid_total', { reason: 'encoding' })).toBe(1);
  });
});
