import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Reconciler, type ReconcileReplies } from '../../src/continuity/reconcile.js';
import { CounterChild } from '../../src/metrics/counter.js';
import type { NodeReply } from '../../src/remote/client.js';
import { LabelPolicy } from '../../src/state/labels.js';
import { TaskTracker } from '../../src/state/task-tracker.js';
import { value } from '../helpers/metrics.js';
import { makeCore } from './core.js';
import { nodeReplies } from './pidbox-fixtures.js';

// The captured replies were taken at about this Unix time (their time_start values).
const CAPTURED_AT_MS = 1_795_684_740_000;

function setUp(nowMs = CAPTURED_AT_MS) {
  const tracker = new TaskTracker({ maxTasks: 1000, ttlSeconds: 86_400, onEvict: () => {} });
  const counted = { added: new CounterChild('', []), updated: new CounterChild('', []), dropped: new CounterChild('', []) };
  const clock = { now: nowMs };
  const r = new Reconciler(
    { rc: { call: () => Promise.reject(new Error('unused')) }, tracker, labels: new LabelPolicy({ stripHostnamePrefix: false, maxLength: 200 }), counted, log: pino({ level: 'silent' }) },
    { replyTimeoutMs: 1000, graceMs: 30_000, ttlSeconds: 86_400 },
    () => clock.now,
  );
  return { r, tracker, counted, clock };
}

function captured(): ReconcileReplies {
  return { active: nodeReplies('amqp', 'active'), reserved: nodeReplies('amqp', 'reserved'), scheduled: nodeReplies('amqp', 'scheduled') };
}

const reply = (hostname: string, value: unknown): NodeReply => ({ hostname, value, elapsedMs: 1 });

describe('rebuilding in-flight tasks from inspect active/reserved/scheduled', () => {
  it('tracks what real workers report: running tasks with their time_start, name and routing key', () => {
    const { r, tracker, counted } = setUp();
    const res = r.apply(captured(), new Set());
    expect(res).toMatchObject({ workers: 3, added: 5, dropped: 0 });
    expect(counted.added.value).toBe(5);
    const running = tracker.get('b37b838f-b4a9-4739-9e0a-be16b42484d9')!;
    expect(running).toMatchObject({ name: 'tests.sleep', queue: 'cap-a', hostname: 'prefork@capture', started: 1795684734.790104 });
    // time_start is Unix time (Celery converts the pool's monotonic accept time): within seconds of the capture.
    expect(Math.abs(running.started - CAPTURED_AT_MS / 1000)).toBeLessThan(60);
    const reserved = tracker.get('69cdd2cf-e997-47ca-8bcc-c7cd2b14c764')!;
    expect(reserved.started).toBeNaN();
    expect(reserved.received).toBe(CAPTURED_AT_MS / 1000);
    const scheduled = tracker.get('ac01f80a-84ac-4179-8a76-fdfacf805d4a')!;
    expect(scheduled).toMatchObject({ name: 'tests.add', hostname: 'solo@capture' });
    expect(scheduled.eta).toBe(Date.parse('2026-11-26T09:28:54.794897+00:00') / 1000);
  });

  it('never overwrites what events said', () => {
    const { r, tracker } = setUp();
    const rec = tracker.getOrCreate('b37b838f-b4a9-4739-9e0a-be16b42484d9', 0);
    rec.name = 'from.events';
    rec.queue = 'q-events';
    rec.started = 1795684700;
    rec.hostname = 'prefork@capture';
    r.apply(captured(), new Set([...tracker.entries()].map(([u]) => u)));
    expect(rec).toMatchObject({ name: 'from.events', queue: 'q-events', started: 1795684700 });
  });

  it('drops a task an answering worker no longer reports, only after a second round and only without a later event', () => {
    const { r, tracker, counted, clock } = setUp();
    const gone = tracker.getOrCreate('gone', 0);
    gone.hostname = 'prefork@capture';
    gone.started = 1795684000;
    const moving = tracker.getOrCreate('moving', 0);
    moving.hostname = 'prefork@capture';
    moving.received = 1795684000;
    const silentWorker = tracker.getOrCreate('silent', 0);
    silentWorker.hostname = 'absent@host';
    silentWorker.started = 1795684000;
    const pending = tracker.getOrCreate('pending', 0);
    pending.sent = 1795684000;
    pending.queue = 'cap-a';
    const first = r.apply(captured(), new Set(['gone', 'moving', 'silent', 'pending']));
    expect(first).toMatchObject({ candidates: 2, dropped: 0 });
    expect(tracker.get('gone')).toBeDefined();
    moving.started = 1795684001; // task-started arrived meanwhile
    clock.now += 30_000;
    const second = r.apply(captured(), new Set([...tracker.entries()].map(([u]) => u)));
    expect(second.dropped).toBe(1);
    expect(counted.dropped.value).toBe(1);
    expect(tracker.get('gone')).toBeUndefined();
    expect(tracker.get('moving')).toBeDefined();
    expect(tracker.get('silent')).toBeDefined(); // its worker did not answer: left as it is
    expect(tracker.get('pending')).toBeDefined(); // in the broker, no worker's to report
  });

  it('a worker that answers only some of the calls is left as it is', () => {
    const { r, tracker } = setUp();
    const t = tracker.getOrCreate('t', 0);
    t.hostname = 'w@h';
    t.started = 1795684000;
    const partial = { active: [reply('w@h', [])], reserved: [reply('w@h', { error: 'boom' })], scheduled: [reply('w@h', [])] };
    r.apply(partial, new Set(['t']));
    r.apply(partial, new Set(['t']));
    expect(tracker.get('t')).toBeDefined();
  });

  it('does not bring back a task that finished while the workers were asked', () => {
    const { r, tracker } = setUp();
    r.apply(captured(), new Set(['b37b838f-b4a9-4739-9e0a-be16b42484d9']));
    expect(tracker.get('b37b838f-b4a9-4739-9e0a-be16b42484d9')).toBeUndefined();
  });

  it('a start time that is not a plausible Unix time (a monotonic clock) counts as now', () => {
    const { r, tracker } = setUp();
    const task = { id: 'm', name: 'x', time_start: 12345.6, delivery_info: { routing_key: 'q' } };
    r.apply({ active: [reply('w@h', [task])], reserved: [reply('w@h', [])], scheduled: [reply('w@h', [])] }, new Set());
    expect(tracker.get('m')!.started).toBe(CAPTURED_AT_MS / 1000);
  });

  it('in a core: a rebuilt scheduled task started at its ETA measures its waits from the ETA, not from when it was learned', () => {
    const t = makeCore(undefined, CAPTURED_AT_MS);
    const counted = { added: new CounterChild('', []), updated: new CounterChild('', []), dropped: new CounterChild('', []) };
    const r = new Reconciler(
      { rc: { call: () => Promise.reject(new Error('unused')) }, tracker: t.state.tracker, labels: new LabelPolicy({ stripHostnamePrefix: false, maxLength: 200 }), counted, log: pino({ level: 'silent' }) },
      { replyTimeoutMs: 1000, graceMs: 30_000, ttlSeconds: 86_400 },
      () => t.clock.now,
    );
    const etaS = CAPTURED_AT_MS / 1000 + 60;
    const request = { id: 's', name: 'x.later', delivery_info: { routing_key: 'q' } };
    r.apply({ active: [reply('w@h', [])], reserved: [reply('w@h', [])], scheduled: [reply('w@h', [{ eta: new Date(etaS * 1000).toISOString(), priority: 6, request }])] }, new Set());
    expect(t.state.tracker.get('s')).toMatchObject({ recvEta: etaS, eta: etaS, sentAttempt: 0, attempt: 0 });
    t.feed({ type: 'task-started', uuid: 's', timestamp: etaS + 1, hostname: 'w@h' });
    const l = { name: 'x.later', queue_name: 'q' };
    expect(value(t.samples(), 'celery_task_prefetch_wait_seconds_count', l)).toBe(1);
    expect(value(t.samples(), 'celery_task_prefetch_wait_seconds_sum', l)).toBeCloseTo(1, 6); // not 61
    expect(value(t.samples(), 'celery_task_queue_wait_seconds_count', l)).toBe(1);
    expect(value(t.samples(), 'celery_task_queue_wait_seconds_sum', l)).toBeCloseTo(1, 6);
  });

  it('in a core: a rebuilt running task shows its oldest-active age and its runtime lands under its name', () => {
    const t = makeCore(undefined, CAPTURED_AT_MS + 10_000);
    const counted = { added: new CounterChild('', []), updated: new CounterChild('', []), dropped: new CounterChild('', []) };
    const r = new Reconciler(
      { rc: { call: () => Promise.reject(new Error('unused')) }, tracker: t.state.tracker, labels: new LabelPolicy({ stripHostnamePrefix: false, maxLength: 200 }), counted, log: pino({ level: 'silent' }) },
      { replyTimeoutMs: 1000, graceMs: 30_000, ttlSeconds: 86_400 },
      () => t.clock.now,
    );
    r.apply(captured(), new Set());
    const age = value(t.samples(), 'celery_task_oldest_active_age_seconds', { name: 'tests.sleep', queue_name: 'cap-a' });
    expect(age).toBeCloseTo(CAPTURED_AT_MS / 1000 + 10 - 1795684734.7850251, 3);
    t.feed({ type: 'task-succeeded', uuid: 'b37b838f-b4a9-4739-9e0a-be16b42484d9', runtime: 30, timestamp: 1795684765, hostname: 'prefork@capture' });
    expect(value(t.samples(), 'celery_task_runtime_seconds_count', { name: 'tests.sleep', queue_name: 'cap-a', state: 'succeeded' })).toBe(1);
  });
});
