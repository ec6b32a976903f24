import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushDb, REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import {
  committedDashboards,
  formatMulti,
  interpolate,
  metricNames,
  parseLabelValues,
  queries,
  variables,
  type PanelQuery,
} from '../helpers/dashboards.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { waitFor } from '../helpers/metrics.js';
import { startPrometheus, type Prometheus } from '../helpers/prometheus.js';
import { alertRules, recordingRules } from '../helpers/rules.js';

/**
 * The proof that the shipped dashboards and recording rules work: a real Prometheus (Debian's
 * package, the repository's prometheus.yml and rule files, 1 s intervals) scrapes the real exporter
 * while a real Celery worker runs a workload that makes every panel's metric exist — successes,
 * failures with exceptions, retries, rejections, revocations, a prioritised queue nobody consumes,
 * a task running past the long-running threshold. Then every PromQL expression of every dashboard
 * panel and every recording rule is evaluated through Prometheus's HTTP API with the dashboard
 * variables resolved to real values the way Grafana does; any error, or no data, fails.
 */
const id = uid();
const DB = REDIS_DB.bundle;
const url = redisUrl(DB);
const QA = `proof-a-${id}`;
const QB = `proof-b-${id}`;
const PRIO = `proof-prio-${id}`; // prioritised tasks, no worker
const SCRAPE = 1; // seconds
/** What Grafana makes of $__rate_interval for a 1 s scrape interval: max($__interval + 1s, 4 × 1s). */
const RATE_INTERVAL = `${4 * SCRAPE}s`;

interface Series {
  metric: Record<string, string>;
  values?: Array<[number, string]>;
  value?: [number, string];
}
interface QueryData {
  resultType: string;
  result: Series[];
}

let exporter: Exporter;
let prom: Prometheus;
let worker: Worker | undefined;
let start = 0;
let end = 0;
const alertStates = new Map<string, string>();
const dashboards = committedDashboards();
const panelQueries: PanelQuery[] = Object.entries(dashboards).flatMap(([f, d]) => queries(f, d));
const records = recordingRules();
/** Variable values per dashboard, formatted as Grafana interpolates an "All" selection. */
const resolved = new Map<string, Record<string, string>>();
const rawValues = new Map<string, Record<string, string[]>>();

const finite = (v: string) => Number.isFinite(Number(v));

async function evaluate(expr: string, instant: boolean): Promise<{ series: number; finite: number }> {
  const data = instant
    ? await prom.api<QueryData>('query', { query: expr, time: String(end) })
    : await prom.api<QueryData>('query_range', { query: expr, start: String(start), end: String(end), step: String(SCRAPE) });
  const points = data.result.flatMap((s) => (s.values ?? (s.value ? [s.value] : [])).map((v) => v[1]));
  return { series: data.result.length, finite: points.filter(finite).length };
}

async function labelValues(selector: string, label: string): Promise<string[]> {
  return prom.api<string[]>(`label/${label}/values`, { 'match[]': selector, start: String(start), end: String(end) });
}

describe('dashboards and recording rules against a real Prometheus', () => {
  beforeAll(async () => {
    await flushDb(DB);
    exporter = await startExporter([
      '--broker-url', url,
      '--queue-poll-interval', '1',
      '--queue-discovery-interval', '1',
      '--long-running-task-threshold', '3',
    ]);
    await waitFor(() => fetch(`${exporter.url}/readyz`).then((r) => r.status), (s) => s === 200, { what: 'readyz' });
    prom = await startPrometheus(`127.0.0.1:${exporter.port}`, `${SCRAPE}s`);
    start = Math.floor(Date.now() / 1000);
    worker = await startWorker({ brokerUrl: url, queues: [QA, QB], name: `proof-${id}@vm`, concurrency: 3, env: { TASK_ACKS_LATE: '1' } });

    // A queue nobody consumes, with prioritised tasks: depth by priority, oldest pending age.
    await sendWorkload(url, ['priorities', PRIO, '1,0,0,2,0,0,1,0,0,3']);
    // A task that runs past the exporter's 3 s threshold while the rest of the workload flows.
    await sendWorkload(url, ['sleep', QA, '25']);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      await sendWorkload(url, ['standard', QA, QB]);
      for (const a of (await prom.api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>('alerts')).alerts) {
        alertStates.set(a.labels['alertname']!, a.state);
      }
    }
    // Let the last tasks finish and be scraped and recorded.
    await new Promise((r) => setTimeout(r, 5_000));
    end = Math.floor(Date.now() / 1000);

    // Resolve each dashboard's variables in order, as Grafana does with "All" selected.
    for (const [file, d] of Object.entries(dashboards)) {
      const values: Record<string, string> = { __rate_interval: RATE_INTERVAL, __interval: `${SCRAPE}s`, __range: `${end - start}s` };
      const raw: Record<string, string[]> = {};
      for (const v of variables(file, d).filter((x) => x.type === 'query')) {
        const { selector, label } = parseLabelValues(v.query);
        raw[v.name] = await labelValues(interpolate(selector, values), label);
        values[v.name] = formatMulti(raw[v.name]!);
      }
      resolved.set(file, values);
      rawValues.set(file, raw);
    }
  }, 240_000);

  afterAll(async () => {
    await worker?.stop();
    await prom?.cleanup();
    await exporter?.stop();
  });

  it('resolves every dashboard variable to the real queues, tasks, workers and job', () => {
    for (const [file, raw] of rawValues) {
      for (const [name, vals] of Object.entries(raw)) expect(vals.length, `${file} $${name}`).toBeGreaterThan(0);
    }
    const overview = rawValues.get('celery-overview.json')!;
    expect(overview['job']).toEqual(['celery']);
    expect(overview['queue_name']).toEqual(expect.arrayContaining([QA, QB, PRIO]));
    expect(rawValues.get('celery-tasks.json')!['name']).toEqual(
      expect.arrayContaining(['tests.add', 'tests.fail_value', 'tests.fail_key', 'tests.retry_once', 'tests.reject', 'tests.sleep']),
    );
    expect(rawValues.get('celery-workers.json')!['hostname']).toEqual([`proof-${id}@vm`]);
  });

  it('has every metric that a panel, a variable or a recording rule reads', async () => {
    const names = new Set([
      ...panelQueries.flatMap((q) => metricNames(q.expr)),
      ...Object.entries(dashboards).flatMap(([f, d]) => variables(f, d).filter((v) => v.type === 'query').flatMap((v) => metricNames(parseLabelValues(v.query).selector))),
      // Raw metrics of the recording rules (record names contain colons and are left out).
      ...records.flatMap((r) => [...r.expr.matchAll(/(?<![:\w])celery_[a-z_]+(?![:\w])/g)].map((m) => m[0])),
    ]);
    const missing: string[] = [];
    for (const n of names) {
      const series = await prom.api<unknown[]>('series', { 'match[]': `${n}{job="celery"}`, start: String(start), end: String(end) });
      if (series.length === 0) missing.push(n);
    }
    expect(names.size).toBeGreaterThan(40);
    expect(missing).toEqual([]);
  });

  it.each(panelQueries.map((q) => [`${q.dashboard} › ${q.panel} › ${q.refId}`, q] as const))('%s returns data', async (_label, q) => {
    const expr = interpolate(q.expr, resolved.get(q.dashboard)!);
    expect(expr, 'uninterpolated variable').not.toMatch(/\$/);
    const r = await evaluate(expr, q.instant);
    expect(r.series, expr).toBeGreaterThan(0);
    expect(r.finite, `${expr}: only NaN/Inf`).toBeGreaterThan(0);
  });

  it.each(records.map((r) => [`${r.record}${r.labels?.['quantile'] ? ` q${r.labels['quantile']}` : ''}`, r] as const))(
    'recording rule %s returns data and is recorded',
    async (_label, r) => {
      const direct = await evaluate(r.expr, false);
      expect(direct.series, r.expr).toBeGreaterThan(0);
      expect(direct.finite, `${r.expr}: only NaN/Inf`).toBeGreaterThan(0);
      const matcher = r.labels?.['quantile'] ? `{quantile="${r.labels['quantile']}"}` : '';
      const recorded = await evaluate(`${r.record}${matcher}`, false);
      expect(recorded.finite, `${r.record} not recorded`).toBeGreaterThan(0);
    },
  );

  it('evaluates every recording and alert rule without error', async () => {
    const data = await prom.api<{ groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string; type: string }> }> }>('rules');
    const rules = data.groups.flatMap((g) => g.rules);
    expect(rules.filter((r) => r.type === 'alerting').map((r) => r.name).sort()).toEqual(alertRules().map((a) => a.alert!).sort());
    expect(rules.filter((r) => r.type === 'recording')).toHaveLength(records.length);
    for (const r of rules) expect({ name: r.name, health: r.health, lastError: r.lastError ?? '' }).toEqual({ name: r.name, health: 'ok', lastError: '' });
  });

  it('raises CeleryTaskRunningTooLong for the task running past the threshold', () => {
    expect(['pending', 'firing']).toContain(alertStates.get('CeleryTaskRunningTooLong'));
    // A healthy exporter, broker and worker raise none of these.
    for (const a of ['CeleryExporterDown', 'CeleryBrokerUnreachable', 'CeleryWorkerDown', 'CeleryExporterNoEvents', 'CeleryExporterInvalidEvents']) {
      expect(alertStates.get(a), a).toBeUndefined();
    }
  });

  it('counts what it proved', () => {
    // Printed for the record: how many dashboard queries and rules were evaluated above.
    console.log(
      `prometheus proof: ${panelQueries.length} dashboard queries in ${Object.keys(dashboards).length} dashboards, ` +
        `${records.length} recording rules, ${alertRules().length} alert rules, over ${end - start} s of data`,
    );
    expect(panelQueries.length).toBeGreaterThan(50);
  });
});
