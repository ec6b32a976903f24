import { describe, expect, it } from 'vitest';
import { Counter } from '../../src/metrics/counter.js';
import { Gauge } from '../../src/metrics/gauge.js';
import { Histogram } from '../../src/metrics/histogram.js';
import { MetricRegistry } from '../../src/metrics/registry.js';

describe('metric model', () => {
  it('renders the text format with escaped labels and static labels', () => {
    const reg = new MetricRegistry({ staticLabels: { site: 'a"b' }, defaultMetrics: false });
    const c = reg.register(new Counter({ name: 'x_total', help: 'Help with \\ and\nnewline', labelNames: ['name'] }));
    c.labels('a\\b"c\nd').inc(2);
    reg.register(new Gauge({ name: 'g', help: 'g' })).labels().set(-Infinity);
    expect(reg.renderOwnSync()).toBe(
      '# HELP x_total Help with \\\\ and\\nnewline\n# TYPE x_total counter\n' +
        'x_total{name="a\\\\b\\"c\\nd",site="a\\"b"} 2\n' +
        '# HELP g g\n# TYPE g gauge\ng{site="a\\"b"} -Inf\n',
    );
  });

  it('renders cumulative histogram buckets, +Inf, sum and count', () => {
    const reg = new MetricRegistry({ defaultMetrics: false });
    const h = reg.register(new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['q'], buckets: [0.1, 1] }));
    const child = h.labels('a');
    for (const v of [0.05, 0.1, 0.5, 5, NaN]) child.observe(v);
    expect(reg.renderOwnSync()).toContain(
      'h_seconds_bucket{q="a",le="0.1"} 2\nh_seconds_bucket{q="a",le="1"} 3\nh_seconds_bucket{q="a",le="+Inf"} 4\n' +
        'h_seconds_sum{q="a"} 5.65\nh_seconds_count{q="a"} 4\n',
    );
  });

  it('removes series by exact label value and detaches the removed child', () => {
    const reg = new MetricRegistry({ defaultMetrics: false });
    const g = reg.register(new Gauge({ name: 'g', help: 'g', labelNames: ['hostname', 'name'] }));
    const keep = g.labels('w@h2', 'w@h');
    const gone = g.labels('w@h', 'x');
    expect(reg.removeWhere('hostname', 'w@h')).toBe(1);
    expect(gone.live).toBe(false);
    expect(keep.live).toBe(true);
    expect(g.size).toBe(1);
  });

  it('refuses series past the global cap and reports which metric', () => {
    const reg = new MetricRegistry({ defaultMetrics: false, maxSeries: 2 });
    const dropped: string[] = [];
    reg.onSeriesDropped = (m) => dropped.push(m);
    const c = reg.register(new Counter({ name: 'c_total', help: 'c', labelNames: ['k'] }));
    const d = reg.register(new Counter({ name: 'd_total', help: 'd', labelNames: ['k'] }));
    c.labels('a').inc();
    d.labels('b').inc();
    const over = c.labels('c');
    over.inc();
    expect(over.live).toBe(false);
    expect(dropped).toEqual(['c_total']);
    expect(reg.renderOwnSync()).not.toContain('k="c"');
    c.remove('a');
    expect(c.labels('c').live).toBe(true);
  });

  it('keeps headroom: one family holds at most half of the cap', () => {
    const reg = new MetricRegistry({ defaultMetrics: false, maxSeries: 4 });
    const c = reg.register(new Counter({ name: 'c_total', help: 'c', labelNames: ['k'] }));
    const d = reg.register(new Counter({ name: 'd_total', help: 'd', labelNames: ['k'] }));
    expect(['a', 'b', 'c'].map((k) => c.labels(k).live)).toEqual([true, true, false]);
    expect(['a', 'b'].map((k) => d.labels(k).live)).toEqual([true, true]);
  });

  it('renders 20k series with prom-client’s default metrics appended', async () => {
    const reg = new MetricRegistry();
    const g = reg.register(new Gauge({ name: 'many', help: 'm', labelNames: ['i'] }));
    for (let i = 0; i < 20_000; i++) g.labels(String(i)).set(i);
    const text = await reg.render();
    expect(text.split('\n').filter((l) => l.startsWith('many{'))).toHaveLength(20_000);
    expect(text).toContain('process_cpu_seconds_total');
  });

  it('runs the scrape steps once per render, in the order they were added, before any family renders', async () => {
    const reg = new MetricRegistry({ defaultMetrics: false });
    const entries = reg.register(new Gauge({ name: 'entries', help: 'e' })).labels();
    const added = reg.register(new Gauge({ name: 'added', help: 'a', labelNames: ['k'] }));
    const order: string[] = [];
    // The step that counts series comes first: it must not see the series the next step adds.
    reg.beforeRender(() => (order.push('count'), entries.set(reg.totalSeries)));
    reg.beforeRender(() => (order.push('add'), added.labels(`k${order.length}`).set(1)));
    expect(reg.renderOwnSync()).toContain('entries 1\n');
    expect(order).toEqual(['count', 'add']);
    const text = await reg.render();
    expect(order).toEqual(['count', 'add', 'count', 'add']);
    expect(text).toContain('entries 2\n');
    expect(text).toContain('added{k="k4"} 1\n');
  });
});
