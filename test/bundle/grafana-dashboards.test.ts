import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dashboards } from '../../grafana/src/index.js';
import { render } from '../../grafana/src/lib.js';
import { brokerOf, committedDashboards, DASHBOARDS_DIR, formatMulti, interpolate, metricNames, panels, parseLabelValues, queries, variables, type Dash } from '../helpers/dashboards.js';
import { ROOT } from '../helpers/exporter.js';

/**
 * The dashboards are generated from grafana/src/*.ts; the committed JSON must be exactly what the
 * sources produce (`npm run bundle:generate` rewrites it), and must follow the conventions Grafana's
 * dashboard linter enforces. Whether every query returns data is proven against a real Prometheus
 * in test/e2e/prometheus-proof.test.ts.
 */
const committed = committedDashboards();
const entries = Object.entries(committed);
/** The metric families the exporter serves today (golden file) plus Prometheus's own per-target series. */
const known = new Set([
  ...readFileSync(join(ROOT, 'test', 'golden', 'metrics.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('# TYPE '))
    .flatMap((l) => {
      const [, , name, type] = l.split(' ');
      return type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!];
    }),
  'up',
  'scrape_samples_scraped',
  'scrape_duration_seconds',
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_eventloop_lag_p99_seconds',
]);

describe('Grafana dashboards', () => {
  it('are committed exactly as generated from grafana/src', () => {
    expect(Object.keys(committed).sort()).toEqual(Object.keys(dashboards).sort());
    for (const [file, d] of Object.entries(dashboards)) {
      expect(readFileSync(join(DASHBOARDS_DIR, file), 'utf8'), `${file} is stale: run npm run bundle:generate`).toBe(render(d));
    }
  });

  it('include the overview, per-task, workers, queues, exporter and where-does-the-time-go views', () => {
    expect(entries.map(([, d]) => d['uid']).sort()).toEqual(
      ['celery-exporter', 'celery-overview', 'celery-queues', 'celery-tasks', 'celery-time', 'celery-workers'].sort(),
    );
    const uids = new Set(entries.map(([, d]) => d['uid']));
    expect(uids.size).toBe(entries.length);
  });

  it.each(entries)('%s: current schema, datasource variable, tags and time settings', (_file, d) => {
    expect(d['schemaVersion']).toBe(42);
    expect(d['title']).toMatch(/^Celery \/ /);
    expect(d['tags']).toContain('celery');
    expect(d['uid']).toMatch(/^[a-z0-9-]{1,40}$/);
    const vars = d['templating']['list'] as Dash[];
    const ds = vars.filter((v) => v['type'] === 'datasource');
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatchObject({ name: 'datasource', query: 'prometheus' });
    expect(vars.map((v) => v['name'])).toContain('job');
  });

  it('use the job, queue_name, name and hostname variables between them', () => {
    const names = new Set(entries.flatMap(([f, d]) => variables(f, d).map((v) => v.name)));
    for (const n of ['datasource', 'job', 'queue_name', 'name', 'hostname']) expect(names).toContain(n);
  });

  it.each(entries)('%s: no hard-coded datasource uid anywhere', (_file, d) => {
    const uids: unknown[] = [];
    const walk = (x: unknown) => {
      if (Array.isArray(x)) x.forEach(walk);
      else if (x !== null && typeof x === 'object') {
        for (const [k, v] of Object.entries(x)) {
          if (k === 'datasource') uids.push(v);
          walk(v);
        }
      }
    };
    walk(d['panels']);
    walk(d['templating']);
    expect(uids.length).toBeGreaterThan(0);
    for (const u of uids) expect(u).toEqual({ type: 'prometheus', uid: '${datasource}' });
  });

  it.each(entries)('%s: every data panel has a title, a description, a unit and queries on the datasource variable', (_file, d) => {
    const data = panels(d).filter((p) => p['type'] !== 'row' && p['type'] !== 'text');
    expect(data.length).toBeGreaterThan(3);
    for (const p of data) {
      expect(p['title'], JSON.stringify(p).slice(0, 200)).toMatch(/\S/);
      expect((p['description'] as string | undefined)?.length ?? 0, p['title']).toBeGreaterThan(15);
      expect(p['fieldConfig']?.['defaults']?.['unit'], p['title']).toMatch(/^[a-z_]+$/i);
      expect(p['datasource'], p['title']).toEqual({ type: 'prometheus', uid: '${datasource}' });
      const targets = p['targets'] as Dash[];
      expect(targets.length, p['title']).toBeGreaterThan(0);
      expect(new Set(targets.map((t) => t['refId'])).size).toBe(targets.length);
    }
  });

  it.each(entries)('%s: panels sit on the 24-column grid without overlapping', (_file, d) => {
    const ps = panels(d);
    expect(new Set(ps.map((p) => p['id'])).size).toBe(ps.length);
    const cells = new Set<string>();
    for (const p of ps) {
      const g = p['gridPos'] as { x: number; y: number; w: number; h: number };
      expect(g.x + g.w, p['title']).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          const c = `${x},${y}`;
          expect(cells.has(c), `${p['title']} overlaps at ${c}`).toBe(false);
          cells.add(c);
        }
    }
  });

  it.each(entries)('%s: queries filter by $job, use $__rate_interval and read only metrics the exporter serves', (file, d) => {
    const qs = queries(file, d);
    const defined = new Set(variables(file, d).map((v) => v.name));
    for (const query of qs) {
      const where = `${query.panel} ${query.refId}: ${query.expr}`;
      // Every selector is scoped to the job variable.
      const selectors = [...query.expr.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!);
      expect(selectors.length, where).toBeGreaterThan(0);
      for (const s of selectors) expect(s, where).toContain('job=~"$job"');
      // Range windows: $__rate_interval, or the dashboard's range for instant table queries.
      for (const m of query.expr.matchAll(/\[([^\]]+)\]/g)) {
        expect(m[1] === '$__rate_interval' || (query.instant && m[1] === '$__range'), where).toBe(true);
      }
      for (const m of query.expr.matchAll(/\$\{?([a-zA-Z_]+)/g)) {
        if (!m[1]!.startsWith('__')) expect(defined.has(m[1]!), `${where}: $${m[1]} not defined`).toBe(true);
      }
      for (const n of metricNames(query.expr)) expect(known.has(n), `${where}: unknown metric ${n}`).toBe(true);
      // Counters only inside rate()/increase().
      for (const m of query.expr.matchAll(/([a-z_]+_total)\{/g)) {
        const before = query.expr.slice(0, m.index);
        expect(/(rate|increase)\($/.test(before), `${where}: ${m[1]} outside rate()`).toBe(true);
      }
    }
  });

  it.each(entries)('%s: label variables are multi-select with All, refreshed on time range change', (file, d) => {
    for (const v of variables(file, d).filter((x) => x.type === 'query')) {
      expect(v.multi && v.includeAll, v.name).toBe(true);
      const { selector, label } = parseLabelValues(v.query);
      expect(label).toBe(v.name);
      for (const n of metricNames(selector)) expect(known.has(n), `${v.name}: ${n}`).toBe(true);
      const raw = (d['templating']['list'] as Dash[]).find((x) => x['name'] === v.name)!;
      expect(raw['refresh']).toBe(2);
      expect(raw['allValue']).toBe('.+');
    }
  });

  it('the where-does-the-time-go view sets queue wait beside runtime and worker utilisation', () => {
    const t = committed['celery-time.json']!;
    const exprs = queries('celery-time.json', t).map((q) => q.expr).join('\n');
    expect(exprs).toContain('celery_task_queue_wait_seconds');
    expect(exprs).toContain('celery_task_runtime_seconds');
    expect(exprs).toContain('celery_worker_pool_utilization_ratio');
    const u = panels(t).find((p) => p['title'] === 'Worker utilisation');
    expect(u?.['fieldConfig']['defaults']).toMatchObject({ unit: 'percentunit', min: 0, max: 1 });
  });

  it.each(entries)('%s: a panel that only one broker can fill says which in its description', (file, d) => {
    for (const p of panels(d).filter((x) => x['targets'])) {
      const kinds = new Set(queries(file, { panels: [p] }).map((x) => brokerOf(x.expr)));
      // A panel is for one broker, or its queries work on both: never a mix of one-broker queries.
      expect(kinds.has('redis') && kinds.has('rabbitmq'), p['title']).toBe(false);
      const description = p['description'] as string;
      if (kinds.has('redis') && kinds.size === 1) expect(description, p['title']).toMatch(/^Redis\b/);
      if (kinds.has('rabbitmq') && kinds.size === 1) expect(description, p['title']).toMatch(/^RabbitMQ\b/);
    }
  });

  it('docs/dashboards-and-alerts.md lists every dashboard and panel', () => {
    const section = readFileSync(join(ROOT, 'docs', 'dashboards-and-alerts.md'), 'utf8');
    for (const [, d] of entries) {
      expect(section).toContain(`**${d['title']}** (\`${d['uid']}\``);
      for (const p of panels(d)) expect(section, `${d['title']} › ${p['title']}`).toContain(p['title']);
    }
  });

  it('provisioning loads these dashboards and a Prometheus datasource without fixing its uid in dashboards', () => {
    const prov = parse(readFileSync(join(ROOT, 'grafana', 'provisioning', 'dashboards', 'celery.yaml'), 'utf8')) as Dash;
    expect(prov['apiVersion']).toBe(1);
    expect(prov['providers'][0]).toMatchObject({ type: 'file', options: { path: expect.any(String) } });
    const ds = parse(readFileSync(join(ROOT, 'grafana', 'provisioning', 'datasources', 'prometheus.yaml'), 'utf8')) as Dash;
    expect(ds['apiVersion']).toBe(1);
    expect(ds['datasources'][0]).toMatchObject({ type: 'prometheus', access: 'proxy' });
    expect(ds['datasources'][0]['jsonData']['timeInterval']).toMatch(/^\d+s$/);
    expect(readdirSync(join(ROOT, 'grafana', 'provisioning'))).toEqual(['dashboards', 'datasources']);
  });
});

describe('Grafana variable interpolation used by the Prometheus proof', () => {
  it('formats an All selection as Grafana does for Prometheus: regex-escaped, joined, in a PromQL string', () => {
    expect(formatMulti(['tests.add'])).toBe('tests\\\\.add');
    expect(formatMulti(['tests.add', 'a|b', 'q'])).toBe('(tests\\\\.add|a\\\\|b|q)');
    expect(interpolate('x{job=~"$job", name=~"${name}", n=~"$name_x"}[$__rate_interval]', { job: 'celery', name: 'n', __rate_interval: '4s' })).toBe(
      'x{job=~"celery", name=~"n", n=~"$name_x"}[4s]',
    );
  });

  it('extracts the metric names an expression reads', () => {
    expect(metricNames('sum(rate({__name__=~"a_total|b_total", job=~"$job"}[5m])) / sum(c_bucket{le="1"})')).toEqual(['a_total', 'b_total', 'c_bucket']);
  });
});
