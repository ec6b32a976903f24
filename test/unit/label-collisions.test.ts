import { describe, expect, it } from 'vitest';
import { Gauge } from '../../src/metrics/gauge.js';
import { MetricRegistry } from '../../src/metrics/registry.js';
import { parseMetrics, select, sum } from '../helpers/metrics.js';
import { makeCore } from './core.js';

const T0 = 1_795_681_000;

/**
 * Label values are sanitised for the exposition (control characters → U+FFFD, lone surrogates
 * repaired). Two raw values that sanitise alike must be one series: two series with the same
 * label text are one sample to Prometheus, which keeps one and silently drops the other.
 */
const PAIRS: Array<[string, string, string]> = [
  ['control characters', 'dup\u0001@h', 'dup\u0002@h'],
  ['a lone surrogate and U+FFFD', 'x\ud800@h', 'x\ufffd@h'],
  ['a tab and a CR', 'a\tb@h', 'a\rb@h'],
];

/** Every sample line's name and label text: none may appear twice. */
function duplicateLines(text: string): string[] {
  const seen = new Set<string>();
  const dups: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const key = line.slice(0, line.lastIndexOf(' '));
    if (seen.has(key)) dups.push(key);
    seen.add(key);
  }
  return dups;
}

describe('label values that sanitise alike are one series', () => {
  for (const [what, a, b] of PAIRS) {
    it(`task and worker series: ${what}`, () => {
      const t = makeCore();
      for (const [i, host] of [a, b].entries()) {
        t.feed({ type: 'task-sent', uuid: `s${i}`, name: `app.t${host}`, queue: host, hostname: host, timestamp: T0 });
        t.feed({ type: 'task-failed', uuid: `s${i}`, hostname: host, timestamp: T0 + 1, exception: `${host.replace(/@h$/, '')}('x')` });
        t.feed({ type: 'worker-heartbeat', hostname: host, timestamp: T0, freq: 2, active: i, sw_ident: host, sw_ver: '5', sw_sys: 'L' });
      }
      const text = t.metrics.registry.renderOwnSync();
      expect(duplicateLines(text)).toEqual([]);
      const s = parseMetrics(text);
      expect(select(s, 'celery_task_sent_total')).toHaveLength(1);
      expect(sum(s, 'celery_task_sent_total')).toBe(2);
      expect(select(s, 'celery_worker_up')).toHaveLength(1);
      expect(select(s, 'celery_worker_info')).toHaveLength(1);
      expect(t.state.workers.size).toBe(1);
    });
  }

  it('in a family fed directly (values not from events)', () => {
    const reg = new MetricRegistry({ defaultMetrics: false });
    const g = reg.register(new Gauge({ name: 'g', help: 'h', labelNames: ['l'] }));
    for (const [, a, b] of PAIRS) {
      g.labels(a).set(1);
      g.labels(b).set(2);
    }
    expect(duplicateLines(reg.renderOwnSync())).toEqual([]);
    expect(g.size).toBe(PAIRS.length);
    expect(reg.totalSeries).toBe(PAIRS.length);
    expect(g.remove(PAIRS[0]![1])).toBe(true);
    expect(g.size).toBe(PAIRS.length - 1);
  });
});
