import { describe, expect, it } from 'vitest';
import { sum, value } from '../helpers/metrics.js';
import { makeCore } from './core.js';

/** A retried task through the pipeline: its attempts are matched by number (src/state/task-time.ts), whatever order their events arrive in. */
const T0 = 1_795_681_000;
const sent = (uuid: string, extra: Record<string, unknown> = {}) => ({
  type: 'task-sent', uuid, name: 'app.add', queue: 'default', routing_key: 'default', hostname: 'gen1@api', timestamp: T0, eta: null, ...extra,
});
const ev = (type: string, uuid: string, timestamp: number, extra: Record<string, unknown> = {}) => ({
  type, uuid, hostname: 'w1@host', timestamp, ...extra,
});

describe('a retried task (attempts matched by `retries`, not by arrival order)', () => {
  // Attempt 0 runs 1.0→1.1 and retries; the pool child's task-sent (retries 1) and task-retried
  // race the main process's task-received/task-started of attempt 1 (received 1.2, started 1.3).
  const first = [sent('r'), ev('task-received', 'r', T0 + 0.5, { name: 'app.add', retries: 0 }), ev('task-started', 'r', T0 + 1)];
  const resent = sent('r', { hostname: 'w1@host', timestamp: T0 + 1.05, retries: 1 });
  const retried = ev('task-retried', 'r', T0 + 1.1, { exception: 'Retry()' });
  const second = [ev('task-received', 'r', T0 + 1.2, { name: 'app.add', retries: 1 }), ev('task-started', 'r', T0 + 1.3)];
  const done = ev('task-succeeded', 'r', T0 + 1.5, { runtime: 0.2 });
  const l = { name: 'app.add', queue_name: 'default' };

  for (const [order, events] of [
    ['task-retried first', [...first, resent, retried, ...second, done]],
    ['task-retried after the retry’s received', [...first, resent, second[0]!, retried, second[1]!, done]],
    ['task-retried after the retry’s started', [...first, resent, ...second, retried, done]],
    ['the retry’s task-sent after its started (RabbitMQ: published after the message)', [...first, ...second, resent, retried, done]],
  ] as const) {
    it(`observes each execution once: ${order}`, () => {
      const t = makeCore();
      for (const e of events) t.feed(e);
      const s = t.samples();
      expect(value(s, 'celery_task_queue_wait_seconds_count', l)).toBe(2);
      expect(value(s, 'celery_task_prefetch_wait_seconds_count', l)).toBe(2);
      // Attempt 0: sent T0 → started +1; attempt 1: sent +1.05 → started +1.3.
      expect(value(s, 'celery_task_queue_wait_seconds_sum', l)).toBeCloseTo(1 + 0.25, 6);
      // Attempt 0: received +0.5 → +1; attempt 1: received +1.2 → +1.3.
      expect(value(s, 'celery_task_prefetch_wait_seconds_sum', l)).toBeCloseTo(0.5 + 0.1, 6);
      expect(value(s, 'celery_task_runtime_seconds_sum', { ...l, state: 'succeeded' })).toBeCloseTo(0.2, 6);
      expect(value(s, 'celery_task_latency_seconds_sum', l)).toBeCloseTo(1.5, 6);
      expect(value(s, 'celery_task_retried_total', { ...l, hostname: 'w1@host' })).toBe(1);
    });
  }

  // Under load the pool child that ran attempt 0 can be preempted between publishing the retry
  // and handing its result back: the main process runs attempt 1 to the end first, so task-retried
  // (and the child's task-sent of the retry) come after task-succeeded; and the producer's
  // task-sent of attempt 0 can come after the retry's (held events released by the retry's).
  const sent0 = sent('r', { retries: 0 });
  const [recv0, start0] = [first[1]!, first[2]!];
  for (const [order, events] of [
    ['task-retried after the task finished', [sent0, recv0, start0, resent, ...second, done, retried]],
    ['the retry’s task-sent and task-retried after the task finished', [sent0, recv0, start0, ...second, done, resent, retried]],
    ['the producer’s task-sent after the retry’s (attempt 0 held)', [recv0, start0, resent, sent0, retried, ...second, done]],
    ['the producer’s task-sent after the task finished', [recv0, start0, resent, retried, ...second, done, sent0]],
  ] as const) {
    it(`counts each event under the task's labels and keeps no record: ${order}`, () => {
      const t = makeCore();
      // The name is known from an earlier task-sent, so a task-received without one is held.
      t.feed(sent('x'));
      t.feed(ev('task-succeeded', 'x', T0));
      for (const e of events) t.feed(e);
      t.advance(3000);
      const s = t.samples();
      expect(value(s, 'celery_task_retried_total', { ...l, hostname: 'w1@host' })).toBe(1);
      expect(sum(s, 'celery_task_retried_total', { name: 'unknown' })).toBe(0);
      expect(value(s, 'celery_task_queue_wait_seconds_count', l)).toBe(2);
      expect(value(s, 'celery_task_prefetch_wait_seconds_count', l)).toBe(2);
      expect(value(s, 'celery_task_queue_wait_seconds_sum', l)).toBeCloseTo(1 + 0.25, 6);
      expect(value(s, 'celery_task_runtime_seconds_count', { ...l, state: 'succeeded' })).toBe(1);
      expect(sum(s, 'celery_task_sent_total', l)).toBe(3);
      expect(value(s, 'celery_exporter_tracked_tasks')).toBe(0);
    });
  }

  it('the retry’s queue wait comes from its own task-sent even when the first started is stamped after it', () => {
    // The main process stamps task-started when it handles the pool's accept, which can be after
    // the child already ran the task and published the retry: started 1.1 > retry sent 1.05.
    const t = makeCore();
    const late = ev('task-started', 'r', T0 + 1.1);
    for (const e of [first[0]!, first[1]!, resent, late, retried, ...second, done]) t.feed(e);
    const s = t.samples();
    expect(value(s, 'celery_task_queue_wait_seconds_count', l)).toBe(2);
    expect(value(s, 'celery_task_queue_wait_seconds_sum', l)).toBeCloseTo(1.1 + 0.25, 6);
  });
});

describe('finished tasks remembered for late events (src/state/finished-tasks.ts)', () => {
  const l = { name: 'app.add', queue_name: 'default' };
  const plain = (uuid: string, at: number) => [
    sent(uuid, { timestamp: at }),
    ev('task-received', uuid, at + 0.1, { name: 'app.add', retries: 0 }),
    ev('task-started', uuid, at + 0.2),
    ev('task-succeeded', uuid, at + 0.3, { runtime: 0.1 }),
  ];

  it('keeps none of the tasks sent once and run once: nothing late can need them', () => {
    const t = makeCore();
    for (let i = 0; i < 500; i++) for (const e of plain(`p${i}`, T0 + i)) t.feed(e);
    expect(t.state.tasks.finishedKept).toBe(0);
    expect(value(t.samples(), 'celery_task_runtime_seconds_count', { ...l, state: 'succeeded' })).toBe(500);
    expect(value(t.samples(), 'celery_exporter_tracked_tasks')).toBe(0);
  });

  it('keeps a retried task, and one that finished before its task-sent came', () => {
    const t = makeCore();
    for (const e of plain('p', T0)) t.feed(e);
    // Retried: attempt 1 finishes; attempt 0's task-retried may still be on its way.
    for (const e of [sent('r'), ev('task-received', 'r', T0 + 1, { name: 'app.add', retries: 0 }), ev('task-retried', 'r', T0 + 1.1), ev('task-received', 'r', T0 + 1.2, { name: 'app.add', retries: 1 }), ev('task-succeeded', 'r', T0 + 1.3)]) t.feed(e);
    // A task whose task-sent has not come (its name's producers send task-sent): held, then applied without it.
    for (const e of [ev('task-received', 'late', T0 + 2, { name: 'app.add' }), ev('task-succeeded', 'late', T0 + 2.1)]) t.feed(e);
    t.advance(1500);
    expect(t.state.tasks.finishedKept).toBe(2);
    // Its task-sent, late: counted under its labels, and no record left behind.
    t.feed(sent('late', { timestamp: T0 + 1.9 }));
    expect(value(t.samples(), 'celery_exporter_tracked_tasks')).toBe(0);
  });
});

it('a task-sent later than its whole task, for a name held once in vain, leaves no record tracked', () => {
  // A restarted exporter missed app.rare's first task-sent: its events were held, then applied
  // without it, and app.rare is no longer held. Another name's producers do send task-sent.
  const t = makeCore();
  t.feed(sent('other', { name: 'app.other' }));
  for (const e of [ev('task-received', 'a', T0, { name: 'app.rare' }), ev('task-succeeded', 'a', T0 + 0.1)]) t.feed(e);
  t.advance(1500);
  for (const e of [ev('task-received', 'b', T0 + 2, { name: 'app.rare' }), ev('task-started', 'b', T0 + 2.1), ev('task-succeeded', 'b', T0 + 2.2)]) t.feed(e);
  t.feed(sent('b', { name: 'app.rare', timestamp: T0 + 1.9 }));
  t.advance(60_000);
  const s = t.samples();
  expect(value(s, 'celery_exporter_tracked_tasks')).toBe(1); // 'other', never finished
  expect(sum(s, 'celery_task_sent_total', { name: 'app.rare' })).toBe(1);
});
