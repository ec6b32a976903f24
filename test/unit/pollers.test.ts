import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MetricRegistry } from '../../src/metrics/registry.js';
import { SelfMetrics } from '../../src/metrics/self-metrics.js';
import type { Poller } from '../../src/pollers/poller.js';
import { PollScheduler } from '../../src/pollers/scheduler.js';
import { QueueRegistry } from '../../src/state/queue-registry.js';
import { parseMetrics, value } from '../helpers/metrics.js';

function setup() {
  const reg = new MetricRegistry({ defaultMetrics: false });
  const self = new SelfMetrics(reg, { version: 't', broker: 'b', transport: 'redis' });
  const log = pino({ level: 'silent' });
  return { reg, self, log, samples: () => parseMetrics(reg.renderOwnSync()) };
}

describe('poll scheduler', () => {
  it('records the duration of a good round', async () => {
    const { self, log, samples } = setup();
    const p: Poller = { name: 'ok', poll: () => new Promise((r) => setTimeout(r, 20)) };
    await new PollScheduler([], self, log).runOnce({ poller: p, intervalMs: 1000, timeoutMs: 1000 });
    expect(value(samples(), 'celery_exporter_poll_duration_seconds', { poller: 'ok' })).toBeGreaterThanOrEqual(0.015);
  });

  it('counts failures and timeouts, and lets the poller withdraw stale series', async () => {
    const { self, log, samples } = setup();
    const failures: string[] = [];
    const failing: Poller = { name: 'bad', poll: () => Promise.reject(new Error('boom')), onFailure: (e) => failures.push(String(e)) };
    const hanging: Poller = { name: 'slow', poll: () => new Promise(() => undefined), onFailure: (e) => failures.push(String(e)) };
    const s = new PollScheduler([], self, log);
    await s.runOnce({ poller: failing, intervalMs: 1000, timeoutMs: 1000 });
    await s.runOnce({ poller: hanging, intervalMs: 1000, timeoutMs: 50 });
    expect(value(samples(), 'celery_exporter_poll_errors_total', { poller: 'bad' })).toBe(1);
    expect(value(samples(), 'celery_exporter_poll_errors_total', { poller: 'slow' })).toBe(1);
    expect(failures).toEqual(['Error: boom', 'Error: timed out after 50 ms']);
  });

  it('never overlaps rounds of one poller and stops cleanly', async () => {
    const { self, log } = setup();
    let concurrent = 0;
    let max = 0;
    let rounds = 0;
    const p: Poller = {
      name: 'p',
      async poll() {
        concurrent++;
        max = Math.max(max, concurrent);
        rounds++;
        await new Promise((r) => setTimeout(r, 60));
        concurrent--;
      },
    };
    const s = new PollScheduler([{ poller: p, intervalMs: 10, timeoutMs: 1000 }], self, log);
    s.start();
    await new Promise((r) => setTimeout(r, 250));
    await s.stop();
    expect(max).toBe(1);
    expect(rounds).toBeGreaterThanOrEqual(2);
  });
});

describe('queue registry', () => {
  it('merges sources, caps the number of queues and never forgets configured ones', () => {
    const q = new QueueRegistry(['celery'], 3);
    q.seen('a', 'event');
    q.seen('a', 'broker');
    q.seen('b', 'event');
    q.seen('c', 'event'); // over the cap
    expect(q.list()).toEqual(['celery', 'a', 'b']);
    expect([...q.sources('a')!]).toEqual(['event', 'broker']);
    expect(q.forget('celery')).toBe(false);
    expect(q.forget('a')).toBe(true);
    expect(q.list()).toEqual(['celery', 'b']);
  });
});
