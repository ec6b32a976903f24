import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Core } from '../../src/core.js';
import { testConfig } from './core.js';

describe('purging many offline hosts', () => {
  it('removes their series by index, in slices, with one log line per round (was one line per host)', () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c)) as Record<string, unknown>), cb()) });
    let now = 1_795_681_000_000;
    const core = new Core(testConfig({ maxSeries: 0 }, { purgeAfter: 60 }), pino({ level: 'info' }, sink), () => now, { defaultMetrics: false });
    const HOSTS = 5000;
    for (let i = 0; i < HOSTS; i++) {
      const ev = { type: 'task-sent', uuid: `u${i}`, name: 'app.t', queue: 'q', hostname: `producer-${i}@h`, timestamp: now / 1000 };
      core.pipeline.onAmqpMessage(Buffer.from(JSON.stringify(ev)), 'application/json', 'utf-8');
    }
    const base = core.registry.totalSeries - HOSTS;
    now += 120_000;
    for (let i = 0; i < 30 && core.registry.totalSeries > base; i++) core.tick((now += 1000));
    expect(core.registry.totalSeries).toBe(base);
    const purged = lines.filter((l) => /^purged/.test(String(l['msg'])));
    expect(purged).toHaveLength(1);
    expect(purged[0]).toMatchObject({ hosts: HOSTS, series: HOSTS });
    // A family's hostname index is emptied with it.
    expect(core.taskMetrics.sent.size).toBe(0);
  });
});
