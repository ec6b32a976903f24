import { describe, expect, it } from 'vitest';
import { OutageReporter } from '../../src/broker/outage.js';

function reporter() {
  const lines: Array<[boolean, string]> = [];
  const reconnects: string[] = [];
  let now = 1_000_000;
  const r = new OutageReporter({ onReadyChange: (ready, reason) => lines.push([ready, reason]), onReconnect: (c) => reconnects.push(c) }, 'events', () => now);
  return { r, lines, reconnects, advance: (ms: number) => (now += ms) };
}

describe('OutageReporter: one line when an outage begins, one when it ends', () => {
  it('reports the first failure only, then the recovery with its duration, attempts and last error', () => {
    const t = reporter();
    t.r.down('connect failed: ECONNREFUSED');
    t.advance(1500);
    t.r.down('connect failed: ECONNREFUSED');
    t.advance(1000);
    t.r.down('connect failed: ETIMEDOUT');
    expect(t.r.ready).toBe(false);
    t.r.up('subscribed to x');
    expect(t.r.ready).toBe(true);
    expect(t.lines).toEqual([
      [false, 'connect failed: ECONNREFUSED'],
      [true, 'subscribed to x; down 2.5 s, 2 failed attempts, last: connect failed: ETIMEDOUT'],
    ]);
    // The first subscription is not a reconnect.
    expect(t.reconnects).toEqual([]);
  });

  it('counts a reconnect from the second time up, and names no attempts when the first one worked', () => {
    const t = reporter();
    t.r.up('subscribed');
    t.r.down('connection closed');
    t.r.up('subscribed');
    expect(t.lines).toEqual([
      [true, 'subscribed'],
      [false, 'connection closed'],
      [true, 'subscribed; down 0.0 s, 0 failed attempts'],
    ]);
    expect(t.reconnects).toEqual(['events']);
  });

  it('stopping reports not ready once, and nothing before the first report repeats', () => {
    const t = reporter();
    t.r.stopping();
    t.r.stopping();
    expect(t.lines).toEqual([[false, 'stopping']]);
  });
});
