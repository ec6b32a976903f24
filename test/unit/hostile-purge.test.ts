import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildEventPath } from '../../src/app/event-path.js';
import { testConfig } from './core.js';
import { decodeAmqpBody } from '../../src/decoder/body.js';

describe('purging many offline hosts', () => {
  it('removes their series by index, in slices, with one log line per round (was one line per host)', () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c)) as Record<string, unknown>), cb()) });
    let now = 1_795_681_000_000;
    const core = buildEventPath(testConfig({ maxSeries: 0 }, { purgeAfter: 60 }), pino({ level: 'info' }, sink), { now: () => now, defaultMetrics: false });
    const HOSTS = 5000;
    for (let i = 0; i < HOSTS; i++) {
      const ev = { type: 'task-sent', uuid: `u${i}`, name: 'app.t', queue: 'q', hostname: `producer-${i}@h`, timestamp: now / 1000 };
      core.pipeline.onBody(decodeAmqpBody(Buffer.from(JSON.stringify(ev)), 'application/json', 'utf-8'));
    }
    const base = core.metrics.registry.totalSeries - HOSTS;
    now += 120_000;
    for (let i = 0; i < 30 && core.metrics.registry.totalSeries > base; i++) core.state.tick((now += 1000));
    expect(core.metrics.registry.totalSeries).toBe(base);
    const purged = lines.filter((l) => /^purged/.test(String(l['msg'])));
    expect(purged).toHaveLength(1);
    expect(purged[0]).toMatchObject({ hosts: HOSTS, series: HOSTS });
    // A family's hostname index is emptied with it.
    expect(core.metrics.tasks.sent.size).toBe(0);
  });
});

describe('the scan for stale producer hosts', () => {
  const HOSTS = 20_000;
  function setup() {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c)) as Record<string, unknown>), cb()) });
    const clock = { now: 1_795_681_000_000 };
    // Each reading of the slice clock is 1 ms later: a tick's scan stops after 11 × 256 hosts, its
    // purge after a few hundred, whatever the machine's speed, so both span several ticks.
    let sliceMs = 0;
    const core = buildEventPath(testConfig({ maxSeries: 0 }, { purgeAfter: 60 }), pino({ level: 'info' }, sink), {
      now: () => clock.now,
      defaultMetrics: false,
      sliceClock: () => ++sliceMs,
    });
    const send = (host: string, i: number) => {
      const ev = { type: 'task-sent', uuid: `u${i}-${clock.now}`, name: 'app.t', queue: 'q', hostname: host, timestamp: clock.now / 1000 };
      core.pipeline.onBody(decodeAmqpBody(Buffer.from(JSON.stringify(ev)), 'application/json', 'utf-8'));
    };
    const purgedLines = () => lines.filter((l) => /^purged/.test(String(l['msg'])));
    return { core, clock, send, purgedLines };
  }

  it('resumes across ticks: every stale host is purged, fresh ones and known workers kept, one line per round', () => {
    const { core, clock, send, purgedLines } = setup();
    for (let i = 0; i < HOSTS; i++) send(`stale-${i}@h`, i);
    // A worker's hostname is the worker table's to purge, not the producer scan's: stale-7 stays
    // a live worker (heartbeats) while its task series are as old as the others'.
    const heartbeat = () =>
      core.pipeline.onBody(decodeAmqpBody(Buffer.from(JSON.stringify({ type: 'worker-heartbeat', hostname: 'stale-7@h', freq: 2, timestamp: clock.now / 1000 })), 'application/json', 'utf-8'));
    clock.now += 120_000;
    heartbeat();
    // Fresh hosts, among them one that was stale and came back, all seen within the purge delay.
    for (let i = 0; i < 100; i++) send(`fresh-${i}@h`, i);
    send('stale-3@h', 0);
    const hosts = () => [...core.metrics.tasks.hostnames()].map(([h]) => h);
    const staleLeft = () => hosts().filter((h) => h.startsWith('stale-') && h !== 'stale-3@h' && h !== 'stale-7@h').length;
    let ticks = 0;
    const progress: number[] = [];
    for (; ticks < 1000 && staleLeft() > 0; ticks++) {
      core.state.tick((clock.now += 1000));
      const left = staleLeft();
      if (left < HOSTS - 2 && left > 0) {
        progress.push(left);
        // No summary line while the round is under way.
        expect(purgedLines()).toHaveLength(0);
      }
      // Fresh hosts keep sending while the scan and the purge are under way.
      if (ticks % 5 === 0) for (let i = 0; i < 100; i++) send(`fresh-${i}@h`, i);
      send('stale-3@h', ticks);
      heartbeat();
    }
    expect(ticks).toBeLessThan(1000);
    // The round spanned many ticks (scan and purge both resumed where they stopped).
    expect(progress.length).toBeGreaterThan(5);
    const left = new Set(hosts());
    for (let i = 0; i < 100; i++) expect(left.has(`fresh-${i}@h`)).toBe(true);
    expect(left.has('stale-3@h')).toBe(true);
    expect(left.has('stale-7@h')).toBe(true);
    expect(left.size).toBe(102);
    const purged = purgedLines();
    expect(purged).toHaveLength(1);
    expect(purged[0]).toMatchObject({ hosts: HOSTS - 2, series: HOSTS - 2 });
  });

  it('logs one line per round: a second batch going stale later is a second round', () => {
    const { core, clock, send, purgedLines } = setup();
    const A = 10_000;
    for (let i = 0; i < A; i++) send(`a-${i}@h`, i);
    clock.now += 30_000;
    for (let i = 0; i < 50; i++) send(`b-${i}@h`, i);
    // a-* go stale at +60 s, b-* at +90 s: the scans in between find only a-*, and the pass that
    // finds them (at +70 s) takes several ticks.
    const tickFor = (ms: number) => {
      const end = clock.now + ms;
      while (clock.now < end) core.state.tick((clock.now += 1000));
    };
    tickFor(50_000);
    expect(purgedLines()).toHaveLength(1);
    expect(purgedLines()[0]).toMatchObject({ hosts: A, series: A });
    expect([...core.metrics.tasks.hostnames()]).toHaveLength(50);
    tickFor(60_000);
    expect(purgedLines()).toHaveLength(2);
    expect(purgedLines()[1]).toMatchObject({ hosts: 50, series: 50 });
    expect([...core.metrics.tasks.hostnames()]).toHaveLength(0);
  });
});

describe('many workers down in one tick', () => {
  it('drops their running tasks in one pass and logs one summary line (one line each up to 10)', () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c)) as Record<string, unknown>), cb()) });
    const clock = { now: 1_795_681_000_000 };
    const core = buildEventPath(testConfig(), pino({ level: 'info' }, sink), { now: () => clock.now, defaultMetrics: false });
    const feed = (ev: Record<string, unknown>) => core.pipeline.onBody(decodeAmqpBody(Buffer.from(JSON.stringify({ timestamp: clock.now / 1000, ...ev })), 'application/json', 'utf-8'));
    for (let w = 0; w < 30; w++) feed({ type: 'worker-heartbeat', hostname: `w${w}@h`, freq: 2 });
    for (let i = 0; i < 90; i++) {
      feed({ type: 'task-sent', uuid: `t${i}`, name: 'app.t', queue: 'q', hostname: 'p@h' });
      feed({ type: 'task-started', uuid: `t${i}`, hostname: `w${i % 30}@h` });
    }
    // w0 says goodbye: its own line, right away.
    feed({ type: 'worker-offline', hostname: 'w0@h' });
    expect(lines.filter((l) => l['msg'] === 'worker down')).toEqual([expect.objectContaining({ hostname: 'w0@h', reason: 'offline', runningTasksDropped: 3 })]);
    // The 29 others time out in the same tick.
    clock.now += 10_000;
    core.state.tick(clock.now);
    expect(lines.filter((l) => l['msg'] === 'worker down')).toHaveLength(1);
    const summary = lines.filter((l) => l['msg'] === 'workers down');
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({ workers: 29, reasons: { timeout: 29 }, runningTasksDropped: 87 });
    expect(summary[0]!['hostnames']).toHaveLength(10);
    for (const r of core.state.tracker.values()) expect(Number.isNaN(r.started)).toBe(true);
  });
});
