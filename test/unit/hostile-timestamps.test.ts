import { describe, expect, it } from 'vitest';
import { value } from '../helpers/metrics.js';
import { makeCore } from './core.js';

const NOW_MS = 1_795_681_000_000;
const NOW = NOW_MS / 1000;
const hb = (timestamp: number, hostname = 'w@h') => ({ type: 'worker-heartbeat', hostname, timestamp, freq: 2 });

/**
 * The exporter's own metrics (event lag, last event, the lost-events detector) read event
 * timestamps, which anyone on the broker sets: a forged one must not move what alerts read.
 */
describe('event timestamps and the exporter’s own metrics', () => {
  it('ignores implausible timestamps (year 5000, 1970) and counts them', () => {
    const t = makeCore(undefined, NOW_MS);
    t.feed(hb(NOW - 0.5));
    for (const ts of [95_617_584_000, 1.0, NOW + 2 * 86_400, NOW - 400 * 86_400]) t.feed(hb(ts));
    const s = t.samples();
    // Was -9.4e10 (year 5000) and 1.8e9 (timestamp 1.0).
    expect(value(s, 'celery_exporter_event_lag_seconds')).toBe(0.5);
    expect(t.pipeline.lagSeconds()).toBe(0.5);
    expect(value(s, 'celery_exporter_events_invalid_total', { reason: 'timestamp' })).toBe(4);
    // The events themselves still count (a worker with a broken clock is still alive).
    expect(value(s, 'celery_exporter_events_total', { type: 'worker-heartbeat' })).toBe(5);
  });

  it('a single plausible but forged timestamp does not move the lag (median of recent messages)', () => {
    const t = makeCore(undefined, NOW_MS);
    for (let i = 0; i < 10; i++) t.feed(hb(NOW - 1));
    t.feed(hb(NOW - 300 * 86_400)); // within a year: plausible, but one event
    t.feed(hb(NOW + 3600)); // an hour ahead, one event
    expect(value(t.samples(), 'celery_exporter_event_lag_seconds')).toBe(1);
    // A real change (every message late) shows within a handful of messages.
    for (let i = 0; i < 8; i++) t.feed(hb(NOW - 30));
    expect(value(t.samples(), 'celery_exporter_event_lag_seconds')).toBe(30);
  });

  it('last-event is not refreshed by an event whose timestamp is implausible', () => {
    const t = makeCore(undefined, NOW_MS);
    t.feed(hb(NOW));
    t.clock.now += 60_000;
    t.feed(hb(1.0));
    expect(value(t.samples(), 'celery_exporter_last_event_timestamp_seconds')).toBe(NOW);
  });
});
