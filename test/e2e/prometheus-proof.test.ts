import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushDb, REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import {
  BROKER_ONLY_METRICS,
  brokerOf,
  committedDashboards,
  formatMulti,
  interpolate,
  metricNames,
  parseLabelValues,
  queries,
  variables,
  type BrokerKind,
  type PanelQuery,
} from '../helpers/dashboards.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { waitFor } from '../helpers/metrics.js';
import { startPrometheus, type Prometheus } from '../helpers/prometheus.js';
import { createVhost } from '../helpers/rabbitmq.js';
import { alertRules, recordingRules } from '../helpers/rules.js';
import { drawOverview } from '../../scripts/lib/render-overview.js';
import { scalerQueries } from '../helpers/autoscaling.js';

/**
 * The proof that the shipped dashboards and rules work: a real Prometheus (Debian's package, the
 * repository's prometheus.yml and rule files, 1 s intervals) scrapes the real exporter while real
 * Celery workers run a workload that makes every panel's metric exist — successes, failures with
 * exceptions, retries, rejections, revocations, a prioritised queue nobody consumes, a task running
 * past the long-running threshold, and a worker whose remote-control replies are pickled (its
 * task_serializer), so its ping fails and the exporter counts unreadable replies. Then every PromQL
 * expression of every dashboard panel and every recording rule is evaluated through Prometheus's
 * HTTP API with the dashboard variables resolved to real values the way Grafana does; any error,
 * or no data, fails.
 *
 * It runs once per broker. A query reading a metric only one broker has (BROKER_ONLY_METRICS) must
 * return data on that broker and nothing on the other; every other query must return data on both.
 */
const id = uid();
const SCRAPE = 1; // seconds
/** What Grafana makes of $__rate_interval for a 1 s scrape interval: max($__interval + 1s, 4 × 1s). */
const RATE_INTERVAL = `${4 * SCRAPE}s`;
const MGMT_PORT = 15672;
/** How long the workload runs. */
const WORKLOAD_SECONDS = Number(process.env['PROOF_WORKLOAD_SECONDS'] ?? 30);

interface Series {
  metric: Record<string, string>;
  values?: Array<[number, string]>;
  value?: [number, string];
}
interface QueryData {
  resultType: string;
  result: Series[];
}
interface BrokerUnderTest {
  url: string;
  exporterArgs: string[];
  remove(): Promise<void>;
}

const BROKERS: Record<BrokerKind, () => Promise<BrokerUnderTest>> = {
  async redis() {
    await flushDb(REDIS_DB.bundle);
    return { url: redisUrl(REDIS_DB.bundle), exporterArgs: [], remove: async () => undefined };
  },
  async rabbitmq() {
    const vhost = await createVhost('proof');
    const u = new URL(vhost.url.replace(/^amqp:/, 'http:'));
    return {
      url: vhost.url,
      exporterArgs: ['--rabbitmq-management-url', `http://${u.username}:${u.password}@${u.hostname}:${MGMT_PORT}`],
      remove: () => vhost.remove(),
    };
  },
};

const dashboards = committedDashboards();
const panelQueries: PanelQuery[] = Object.entries(dashboards).flatMap(([f, d]) => queries(f, d));
const records = recordingRules();
const finite = (v: string) => Number.isFinite(Number(v));

describe.each(Object.keys(BROKERS) as BrokerKind[])('dashboards and rules against a real Prometheus, broker %s', (kind) => {
  const QA = `proof-a-${id}`;
  const QB = `proof-b-${id}`;
  const PRIO = `proof-prio-${id}`; // prioritised tasks, no worker
  const PRIO_COUNTS = '1,0,0,2,0,0,1,0,0,3'; // tasks per priority 0…9 sent to PRIO
  const QP = `proof-pickle-${id}`; // consumed by the pickle worker, nothing sent
  const MAIN = `proof-${kind}-${id}@vm`;
  const PICKLE = `pickle-${kind}-${id}@vm`;
  const other: BrokerKind = kind === 'redis' ? 'rabbitmq' : 'redis';
  /** Whether this broker should fill a query: broker-neutral, or this broker's own. */
  const expectsData = (expr: string) => brokerOf(expr) !== other;

  let broker: BrokerUnderTest | undefined;
  let exporter: Exporter | undefined;
  let prom: Prometheus | undefined;
  const workers: Worker[] = [];
  let start = 0;
  let end = 0;
  /** Alert name → label sets (JSON) → last state seen while the workload ran. */
  const alertsSeen = new Map<string, Map<string, string>>();
  /** Variable values per dashboard, formatted as Grafana interpolates an "All" selection. */
  const resolved = new Map<string, Record<string, string>>();
  const rawValues = new Map<string, Record<string, string[]>>();

  const api = <T>(path: string, params?: Record<string, string | string[]>) => prom!.api<T>(path, params);

  async function evaluate(expr: string, instant: boolean): Promise<{ series: number; finite: number }> {
    const data = instant
      ? await api<QueryData>('query', { query: expr, time: String(end) })
      : await api<QueryData>('query_range', { query: expr, start: String(start), end: String(end), step: String(SCRAPE) });
    const points = data.result.flatMap((s) => (s.values ?? (s.value ? [s.value] : [])).map((v) => v[1]));
    return { series: data.result.length, finite: points.filter(finite).length };
  }

  async function recordAlerts(): Promise<void> {
    for (const a of (await api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>('alerts')).alerts) {
      const { alertname, severity: _s, ...labels } = a.labels;
      let m = alertsSeen.get(alertname!);
      if (!m) alertsSeen.set(alertname!, (m = new Map()));
      m.set(JSON.stringify(labels), a.state);
    }
  }
  const alertLabels = (name: string) => [...(alertsSeen.get(name)?.keys() ?? [])].map((k) => JSON.parse(k) as Record<string, string>);

  beforeAll(async () => {
    broker = await BROKERS[kind]();
    const url = broker.url;
    exporter = await startExporter([
      '--broker-url', url,
      '--queue-poll-interval', '1',
      '--queue-discovery-interval', '1',
      '--long-running-task-threshold', '3',
      '--inspect-poll-interval', '2',
      '--enable-events-interval', '5',
      // Periodic tasks: one that succeeds, a glob of two that only fail, one that never runs.
      '--periodic-task', 'tests.add=1h', '--periodic-task', 'tests.fail_*=1h', '--periodic-task', 'tests.never=2s',
      ...broker.exporterArgs,
    ]);
    await waitFor(() => fetch(`${exporter!.url}/readyz`).then((r) => r.status), (s) => s === 200, { what: 'readyz' });
    prom = await startPrometheus(`127.0.0.1:${exporter.port}`, `${SCRAPE}s`);
    // Until its first scrape, Prometheus rightly holds CeleryExporterAbsent pending: wait it out.
    // tests.never (declared, never run) is rightly overdue 3 s after the exporter started.
    await waitFor(
      () => Promise.all([api<QueryData>('query', { query: 'up{job="celery"} == 1' }), api<{ alerts: Array<{ labels: Record<string, string> }> }>('alerts')]),
      ([up, a]) => up.result.length === 1 && a.alerts.every((x) => x.labels['alertname'] === 'CeleryPeriodicTaskOverdue'),
      { what: 'a first scrape and no alert before the workload' },
    );
    start = Math.floor(Date.now() / 1000);
    workers.push(await startWorker({ brokerUrl: url, queues: [QA, QB], name: MAIN, concurrency: 3, env: { TASK_ACKS_LATE: '1' } }));
    // Heartbeats say up, but its remote-control replies are pickled: unreadable, so no ping.
    workers.push(await startWorker({ brokerUrl: url, queues: [QP], name: PICKLE, concurrency: 1, env: { TASK_SERIALIZER: 'pickle' } }));

    // A queue nobody consumes, with prioritised tasks: depth by priority, oldest pending age.
    await sendWorkload(url, ['priorities', PRIO, PRIO_COUNTS]);
    // A task that runs past the exporter's 3 s threshold while the rest of the workload flows.
    await sendWorkload(url, ['sleep', QA, '25']);
    const deadline = Date.now() + WORKLOAD_SECONDS * 1000;
    while (Date.now() < deadline) {
      await sendWorkload(url, ['standard', QA, QB]);
      await recordAlerts();
    }
    // Let the last tasks finish and be scraped and recorded.
    await new Promise((r) => setTimeout(r, 5_000));
    await recordAlerts();
    end = Math.floor(Date.now() / 1000);

    // Resolve each dashboard's variables in order, as Grafana does with "All" selected.
    for (const [file, d] of Object.entries(dashboards)) {
      const values: Record<string, string> = { __rate_interval: RATE_INTERVAL, __interval: `${SCRAPE}s`, __range: `${end - start}s` };
      const raw: Record<string, string[]> = {};
      for (const v of variables(file, d).filter((x) => x.type === 'query')) {
        const { selector, label } = parseLabelValues(v.query);
        raw[v.name] = await api<string[]>(`label/${label}/values`, { 'match[]': interpolate(selector, values), start: String(start), end: String(end) });
        values[v.name] = formatMulti(raw[v.name]!);
      }
      resolved.set(file, values);
      rawValues.set(file, raw);
    }
  }, 300_000 + WORKLOAD_SECONDS * 1000);

  afterAll(async () => {
    for (const w of workers) await w.stop();
    await prom?.cleanup();
    await exporter?.stop();
    await broker?.remove();
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
    expect(rawValues.get('celery-workers.json')!['hostname']).toEqual([MAIN, PICKLE].sort());
  });

  it(`has every metric that a panel, a variable or a recording rule reads, and none that only ${other} has`, async () => {
    const names = new Set([
      ...panelQueries.flatMap((q) => metricNames(q.expr)),
      ...Object.entries(dashboards).flatMap(([f, d]) => variables(f, d).filter((v) => v.type === 'query').flatMap((v) => metricNames(parseLabelValues(v.query).selector))),
      // Raw metrics of the recording rules (record names contain colons and are left out).
      ...records.flatMap((r) => [...r.expr.matchAll(/(?<![:\w])celery_[a-z_]+(?![:\w])/g)].map((m) => m[0])),
    ]);
    const missing: string[] = [];
    const unexpected: string[] = [];
    for (const n of names) {
      const series = await api<unknown[]>('series', { 'match[]': `${n}{job="celery"}`, start: String(start), end: String(end) });
      if (BROKER_ONLY_METRICS[n] === other) {
        if (series.length > 0) unexpected.push(n);
      } else if (series.length === 0) missing.push(n);
    }
    expect(names.size).toBeGreaterThan(60);
    expect(missing).toEqual([]);
    expect(unexpected).toEqual([]);
  });

  it.each(panelQueries.map((q) => [`${q.dashboard} › ${q.panel} › ${q.refId}`, q] as const))('%s', async (_label, q) => {
    const expr = interpolate(q.expr, resolved.get(q.dashboard)!);
    expect(expr, 'uninterpolated variable').not.toMatch(/\$/);
    const r = await evaluate(expr, q.instant);
    if (expectsData(q.expr)) {
      expect(r.series, expr).toBeGreaterThan(0);
      expect(r.finite, `${expr}: only NaN/Inf`).toBeGreaterThan(0);
    } else {
      // A panel only the other broker fills: its description says so, and here it is empty.
      expect(r.series, `${expr} has data on ${kind} although it reads a ${other}-only metric`).toBe(0);
    }
  });

  it.each(records.map((r) => [`${r.record}${r.labels?.['quantile'] ? ` q${r.labels['quantile']}` : ''}`, r] as const))(
    'recording rule %s returns data and is recorded',
    async (_label, r) => {
      expect(brokerOf(r.expr), 'recording rules read broker-neutral metrics').toBeUndefined();
      const direct = await evaluate(r.expr, false);
      expect(direct.series, r.expr).toBeGreaterThan(0);
      expect(direct.finite, `${r.expr}: only NaN/Inf`).toBeGreaterThan(0);
      const matcher = r.labels?.['quantile'] ? `{quantile="${r.labels['quantile']}"}` : '';
      const recorded = await evaluate(`${r.record}${matcher}`, false);
      expect(recorded.finite, `${r.record} not recorded`).toBeGreaterThan(0);
    },
  );

  // deploy/kubernetes/keda/ and hpa/: every query the scalers run, for a consumed queue (QA, whose
  // acks_late worker holds tasks unacknowledged) and for the queue nobody consumes (PRIO: the
  // scale-from-zero case, which needs the queue known without any consumer).
  it.each(scalerQueries().map((q) => [q.source, q] as const))('autoscaling query of %s returns data', async (source) => {
    for (const queue of [QA, PRIO]) {
      const q = scalerQueries(queue).find((x) => x.source === source)!;
      const r = await evaluate(q.expr, false);
      expect(r.series, q.expr).toBe(1);
      expect(r.finite, `${q.expr}: only NaN/Inf`).toBeGreaterThan(0);
    }
    if (source.includes('backlog') || source === 'keda trigger 1') {
      // The seven prioritised tasks (PRIO_COUNTS) wait with no worker: above the activation
      // threshold (0), so KEDA would wake the Deployment from zero.
      const atEnd = await api<QueryData>('query', { query: scalerQueries(PRIO).find((x) => x.source === source)!.expr, time: String(end) });
      expect(Number(atEnd.result[0]!.value![1])).toBe(PRIO_COUNTS.split(',').reduce((a, c) => a + Number(c), 0));
    }
  });

  // Every worker-side state counter of a task series exists from its first event on, at 0 until
  // counted (as the Python celery-exporter does), so per-task queries see 0, not "no data".
  const STATES = ['received', 'started', 'succeeded', 'failed', 'rejected', 'revoked', 'retried'];
  const TASKS = ['tests.add', 'tests.fail_value', 'tests.fail_key', 'tests.retry_once', 'tests.reject', 'tests.sleep'];
  it.each(STATES)('increase() of celery_task_%s_total returns data for every task name', async (state) => {
    const data = await api<QueryData>('query', {
      query: `sum by (name) (increase(celery_task_${state}_total{job="celery"}[${end - start}s]))`,
      time: String(end),
    });
    const byName = new Map(data.result.map((r) => [r.metric['name'], Number(r.value![1])]));
    expect([...byName.keys()].sort()).toEqual(expect.arrayContaining(TASKS));
    // tests.sleep: one task, never revoked, rejected, retried or failed, yet every counter is there.
    if (['failed', 'rejected', 'revoked', 'retried'].includes(state)) expect(byName.get('tests.sleep')).toBe(0);
  });

  it('computes succeeded / (succeeded + failed) per task, also for tasks that never failed', async () => {
    const inc = (s: string) => `sum by (name) (increase(celery_task_${s}_total{job="celery"}[${end - start}s]))`;
    const data = await api<QueryData>('query', { query: `${inc('succeeded')} / (${inc('succeeded')} + ${inc('failed')})`, time: String(end) });
    const ratio = Object.fromEntries(data.result.map((r) => [r.metric['name']!, Number(r.value![1])]));
    expect(ratio['tests.add']).toBe(1);
    expect(ratio['tests.sleep']).toBe(1);
    expect(ratio['tests.retry_once']).toBe(1);
    expect(ratio['tests.fail_value']).toBe(0);
    expect(ratio['tests.fail_key']).toBe(0);
  });

  it('evaluates every recording and alert rule without error', async () => {
    const data = await api<{ groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string; type: string }> }> }>('rules');
    const rules = data.groups.flatMap((g) => g.rules);
    expect(rules.filter((r) => r.type === 'alerting').map((r) => r.name).sort()).toEqual(alertRules().map((a) => a.alert!).sort());
    expect(rules.filter((r) => r.type === 'recording')).toHaveLength(records.length);
    for (const r of rules) expect({ name: r.name, health: r.health, lastError: r.lastError ?? '' }).toEqual({ name: r.name, health: 'ok', lastError: '' });
  });

  it('raises the alerts this workload calls for, on the right series, and no others', () => {
    // Pending is enough: the `for` durations are minutes, the run is seconds.
    const raised = (name: string) => [...(alertsSeen.get(name)?.values() ?? [])];
    const expected = [
      'CeleryPeriodicTaskFailing',
      'CeleryPeriodicTaskOverdue',
      'CeleryQueueNoConsumers',
      'CeleryTaskFailureRatioHigh',
      'CeleryTaskRunningTooLong',
      'CeleryWorkerNotAnsweringPing',
    ];
    for (const name of expected) {
      expect(raised(name).length, name).toBeGreaterThan(0);
      for (const state of raised(name)) expect(['pending', 'firing']).toContain(state);
    }
    expect(alertLabels('CeleryTaskRunningTooLong').map((l) => [l['name'], l['queue_name']])).toEqual([['tests.sleep', QA]]);
    // The two tasks that always fail, and only those (retries and rejections are not failures).
    expect(alertLabels('CeleryTaskFailureRatioHigh').map((l) => `${l['name']} ${l['queue_name']}`).sort()).toEqual([`tests.fail_key ${QB}`, `tests.fail_value ${QA}`]);
    // The prioritised queue has messages and no worker; the consumed queues never alert.
    expect(alertLabels('CeleryQueueNoConsumers').map((l) => l['queue_name'])).toEqual([PRIO]);
    // Declared periodic tasks: the two that only fail, and the one that never ran (2 s × 1.5 after
    // the exporter started); tests.add succeeds on time.
    expect(alertLabels('CeleryPeriodicTaskFailing').map((l) => l['name']).sort()).toEqual(['tests.fail_key', 'tests.fail_value']);
    expect(alertLabels('CeleryPeriodicTaskOverdue').map((l) => l['name'])).toEqual(['tests.never']);
    // The pickle worker's heartbeats say up but its pings cannot be read; the main worker answers.
    expect(alertLabels('CeleryWorkerNotAnsweringPing').map((l) => l['hostname'])).toEqual([PICKLE]);
    // A healthy exporter, broker and workers raise nothing else (the unconsumed queue's backlog
    // alerts need minutes of age or depth this run does not reach).
    expect([...alertsSeen.keys()].sort()).toEqual(expected);
  });

  it('draws the overview dashboard from this data, every panel with its data', async () => {
    // The README picture's renderer (npm run docs:picture), run on this Prometheus.
    const { svg, emptyQueries } = await drawOverview(api, { start, end, scrapeSeconds: SCRAPE });
    expect(emptyQueries.filter(expectsData)).toEqual([]);
    for (const p of dashboards['celery-overview.json']!['panels'] as Array<{ title: string }>) expect(svg).toContain(`>${p.title}<`);
  });

  it('counts what it proved', () => {
    const own = panelQueries.filter((q) => expectsData(q.expr)).length;
    // Printed for the record: how many dashboard queries and rules were evaluated above.
    console.log(
      `prometheus proof (${kind}): ${panelQueries.length} dashboard queries in ${Object.keys(dashboards).length} dashboards ` +
        `(${own} with data, ${panelQueries.length - own} ${other}-only and empty), ` +
        `${records.length} recording rules, ${alertRules().length} alert rules, over ${end - start} s of data`,
    );
    expect(panelQueries.length).toBeGreaterThan(100);
  });
});
