import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MetricRegistry } from '../../src/metrics/registry.js';
import { SelfMetrics } from '../../src/metrics/self-metrics.js';
import type { Collector } from '../../src/pollers/collector.js';
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
    const p: Collector = { name: 'ok', collect: () => new Promise((r) => setTimeout(r, 20)) };
    await new PollScheduler([], self, log).runOnce({ collector: p, intervalMs: 1000, timeoutMs: 1000 });
    expect(value(samples(), 'celery_exporter_poll_duration_seconds', { poller: 'ok' })).toBeGreaterThanOrEqual(0.015);
  });

  it('counts failures and timeouts, and lets the poller withdraw stale series', async () => {
    const { self, log, samples } = setup();
    const failures: string[] = [];
    const failing: Collector = { name: 'bad', collect: () => Promise.reject(new Error('boom')), onFailure: (e) => failures.push(String(e)) };
    const hanging: Collector = { name: 'slow', collect: () => new Promise(() => undefined), onFailure: (e) => failures.push(String(e)) };
    const s = new PollScheduler([], self, log);
    await s.runOnce({ collector: failing, intervalMs: 1000, timeoutMs: 1000 });
    await s.runOnce({ collector: hanging, intervalMs: 1000, timeoutMs: 50 });
    expect(value(samples(), 'celery_exporter_poll_errors_total', { poller: 'bad' })).toBe(1);
    expect(value(samples(), 'celery_exporter_poll_errors_total', { poller: 'slow' })).toBe(1);
    expect(failures).toEqual(['Error: boom', 'Error: timed out after 50 ms']);
  });

  it('never overlaps rounds of one poller and stops cleanly', async () => {
    const { self, log } = setup();
    let concurrent = 0;
    let max = 0;
    let rounds = 0;
    const p: Collector = {
      name: 'p',
      async collect() {
        concurrent++;
        max = Math.max(max, concurrent);
        rounds++;
        await new Promise((r) => setTimeout(r, 60));
        concurrent--;
      },
    };
    const s = new PollScheduler([{ collector: p, intervalMs: 10, timeoutMs: 1000 }], self, log);
    s.start();
    await new Promise((r) => setTimeout(r, 250));
    await s.stop();
    expect(max).toBe(1);
    expect(rounds).toBeGreaterThanOrEqual(2);
  });
});

describe('on-demand rounds (fresh queue depth)', () => {
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

  it('runs at most one round per minimum interval, whatever the number of scrapes and task-sent nudges', async () => {
    const { self, log, samples } = setup();
    let rounds = 0;
    const p: Collector = { name: 'q', collect: async () => void rounds++ };
    const s = new PollScheduler([{ collector: p, intervalMs: 60_000, timeoutMs: 1000, minIntervalMs: 300 }], self, log);
    s.start();
    await sleep(20);
    expect(rounds).toBe(1); // the first round, at start
    await Promise.all(Array.from({ length: 20 }, () => s.refresh(1000)));
    expect(rounds).toBe(1); // within 300 ms of it: served as is
    await sleep(300);
    await Promise.all(Array.from({ length: 20 }, () => s.refresh(1000)));
    expect(rounds).toBe(2); // 20 concurrent scrapes, one round
    for (let i = 0; i < 10; i++) s.nudge();
    await sleep(150);
    expect(rounds).toBe(2); // not before the minimum interval
    for (let i = 0; i < 40 && rounds < 3; i++) await sleep(50);
    await sleep(400);
    expect(rounds).toBe(3); // ten nudges, one round
    await s.stop();
    const m = samples();
    expect(value(m, 'celery_exporter_poll_on_demand_total', { poller: 'q', trigger: 'scrape' })).toBe(1);
    expect(value(m, 'celery_exporter_poll_on_demand_total', { poller: 'q', trigger: 'task_sent' })).toBe(1);
  });

  it('makes a scrape wait for nothing while the broker is down', async () => {
    const { self, log, samples } = setup();
    let down = true;
    let rounds = 0;
    const p: Collector = { name: 'q', collect: () => (rounds++, new Promise(() => undefined)) }; // a black-holed broker
    const s = new PollScheduler([{ collector: p, intervalMs: 60_000, timeoutMs: 5000, minIntervalMs: 10 }], self, log, { brokerDown: () => down });
    const t0 = performance.now();
    await s.refresh(1000);
    expect(performance.now() - t0).toBeLessThan(100);
    expect(rounds).toBe(0);
    expect(value(samples(), 'celery_exporter_scrape_refresh_timeouts_total', { poller: 'q' })).toBe(0);
    down = false;
    await s.refresh(50); // the broker is back: the scrape runs a round again and waits (bounded) for it
    expect(rounds).toBe(1);
    expect(value(samples(), 'celery_exporter_scrape_refresh_timeouts_total', { poller: 'q' })).toBe(1);
    await s.stop();
  });

  it('refreshes as soon as the broker is reachable, before brokerDown\'s settling time is over', async () => {
    const { self, log } = setup();
    let rounds = 0;
    const p: Collector = { name: 'q', collect: async () => void rounds++ };
    const s = new PollScheduler([{ collector: p, intervalMs: 60_000, timeoutMs: 1000, minIntervalMs: 10 }], self, log, {
      brokerDown: () => true, // connected, but for less than the settling time
      brokerUnreachable: () => false,
    });
    await s.refresh(1000);
    expect(rounds).toBe(1);
    await s.stop();
  });

  it('makes a scrape wait at most the bound for a slow round, and counts it', async () => {
    const { self, log, samples } = setup();
    const p: Collector = { name: 'slow', collect: () => sleep(400) };
    const s = new PollScheduler([{ collector: p, intervalMs: 60_000, timeoutMs: 1000, minIntervalMs: 10 }], self, log);
    s.start();
    await sleep(20);
    const t0 = performance.now();
    await Promise.all([s.refresh(50), s.refresh(50)]); // both join the running round
    expect(performance.now() - t0).toBeLessThan(200);
    expect(value(samples(), 'celery_exporter_scrape_refresh_timeouts_total', { poller: 'slow' })).toBe(2);
    await s.stop();
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
