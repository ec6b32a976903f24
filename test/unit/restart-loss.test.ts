import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RESTART_LOSS_WINDOW_MS, RestartLossWatch } from '../../src/continuity/restart-loss.js';
import { sum } from '../helpers/metrics.js';
import { makeCore } from './core.js';

/**
 * Issue 16, item 3 (Redis): after a restart from --state-file, a task finishing that the exporter
 * never saw (nor the file, nor the workers) is evidence that the events published while it was
 * down are lost: one incident in celery_exporter_events_dropped_suspected_total.
 */
const T0 = 1_795_681_000;
const ev = (type: string, uuid: string, timestamp: number, extra: Record<string, unknown> = {}) => ({
  type,
  uuid,
  hostname: 'w1@probe',
  timestamp,
  ...extra,
});
const dropped = (t: ReturnType<typeof makeCore>) => sum(t.samples(), 'celery_exporter_events_dropped_suspected_total');

describe('events lost across a restart (dropped_suspected)', () => {
  const armed = () => {
    const t = makeCore();
    const watch = new RestartLossWatch(t, pino({ level: 'silent' }), t.clock.now - 60_000, () => t.clock.now);
    return Object.assign(t, { watch });
  };

  it('counts one incident for the first unknown task that finishes, and nothing for later ones', () => {
    const t = armed();
    t.feed(ev('task-succeeded', 'never-seen-1', T0, { runtime: 1 }));
    expect(dropped(t)).toBe(1);
    t.feed(ev('task-failed', 'never-seen-2', T0 + 1, { exception: 'ValueError()' }));
    expect(dropped(t)).toBe(1);
  });

  it('counts nothing for tasks it knows (received after the start, or restored)', () => {
    const t = armed();
    t.feed([
      { type: 'task-sent', uuid: 'k1', name: 'tests.add', queue: 'q', routing_key: 'q', hostname: 'api@probe', timestamp: T0 },
      ev('task-received', 'k1', T0, { name: 'tests.add' }),
      ev('task-started', 'k1', T0 + 1),
      ev('task-succeeded', 'k1', T0 + 2, { runtime: 1 }),
    ]);
    expect(dropped(t)).toBe(0);
    expect(sum(t.samples(), 'celery_task_succeeded_total')).toBe(1);
  });

  it('counts one incident when the start rebuild found tasks the file did not hold, and not again for an unknown finish', () => {
    const t = armed();
    t.watch.rebuilt(0);
    expect(dropped(t)).toBe(0);
    t.watch.rebuilt(2);
    expect(dropped(t)).toBe(1);
    t.feed(ev('task-succeeded', 'never-seen', T0, { runtime: 1 }));
    t.watch.rebuilt(1);
    expect(dropped(t)).toBe(1);
  });

  it('counts nothing once the window after the start has passed', () => {
    const t = armed();
    t.advance(RESTART_LOSS_WINDOW_MS + 1000);
    t.feed(ev('task-succeeded', 'late', T0, { runtime: 1 }));
    expect(dropped(t)).toBe(0);
  });

  it('counts nothing once disarmed (the transport reported a loss itself) or when not armed (no state restored)', () => {
    const t = makeCore();
    new RestartLossWatch(t, pino({ level: 'silent' }), t.clock.now, () => t.clock.now).disarm();
    t.feed(ev('task-succeeded', 'x', T0, { runtime: 1 }));
    const fresh = makeCore();
    fresh.feed(ev('task-succeeded', 'y', T0, { runtime: 1 }));
    expect([dropped(t), dropped(fresh)]).toEqual([0, 0]);
  });
});
