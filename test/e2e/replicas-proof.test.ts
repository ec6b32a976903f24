import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushDb, REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { CELERY_DIR, PYTHON, startWorker, type Worker } from '../helpers/celery.js';
import { spawnTracked, type Spawned } from '../helpers/processes.js';
import { committedDashboards, formatMulti, interpolate, metricNames, panels, parseLabelValues, queries, variables, type PanelQuery } from '../helpers/dashboards.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { parseMetrics, sum, waitFor } from '../helpers/metrics.js';
import { startPrometheus, type Prometheus } from '../helpers/prometheus.js';
import { recordingRules } from '../helpers/rules.js';

/**
 * Two exporter replicas on one broker (docs/deployment.md) give the answer of one. Two real
 * exporters watch the same Redis while real Celery workers run the workload of the Prometheus
 * proof (prometheus-proof.test.ts); a real Prometheus scrapes both as the job `celery` and the
 * first one alone as the job `celery-single`. Then every dashboard query (template variables
 * substituted, the job set to each in turn), every recording rule and every alert is compared:
 * the pair's value must equal the single exporter's, series for series.
 *
 * "Equal" allows what a scrape's worth of time makes differ. The two replicas are scraped at
 * different instants within each second, so over a window W a rate may differ by one scrape
 * interval's share of W, and a value in seconds (an age, an uptime) by a scrape plus one
 * remote-control poll of the replica. A gauge that every worker heartbeat moves (the load average)
 * can be one heartbeat newer in the replica scraped later: a query whose answers differ is compared
 * again with the single exporter's answer one scrape interval earlier and later (the windows then
 * shift by a second at either end, where the workload is quiet). Double counting, what
 * deduplication prevents, is 100 %.
 * The rate windows span everything Prometheus saw: it starts after a warm-up round (every task
 * series exists in both replicas, so no series appears mid-window with a first value rate() cannot
 * count) and the comparison waits until the workers are quiet: both replicas counted every event.
 * With the rules and dashboards as they were before deduplication, 48 of these checks fail.
 */
const id = uid();
const SCRAPE = 1; // seconds
const PAIR = 'celery';
const SINGLE = 'celery-single';
const WORKLOAD_SECONDS = Number(process.env['REPLICAS_WORKLOAD_SECONDS'] ?? 30);
const INSPECT_INTERVAL = 1; // seconds
/** A value in seconds read at scrape time: one scrape plus one remote-control poll apart. */
const TIME_TOLERANCE = SCRAPE + INSPECT_INTERVAL;
let relativeTolerance = 0.02; // set from the window once it is known

interface Series {
  metric: Record<string, string>;
  value: [number, string];
}
interface Alert {
  labels: Record<string, string>;
}

/** Waits until every target has been scraped at least twice after `second` (a Unix time in seconds). */
const twoScrapesAfter = (second: number) => new Promise((r) => setTimeout(r, (second + 2 * SCRAPE) * 1000 + 500 - Date.now()));

/** Labels that name the series within a job (job, and Prometheus's __name__, left out). */
const key = (m: Record<string, string>) =>
  JSON.stringify(Object.entries(m).filter(([k]) => k !== 'job' && k !== '__name__').sort(([a], [b]) => a.localeCompare(b)));

function close(a: number, b: number, unit: string): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true; // also ±Inf
  const diff = Math.abs(a - b);
  return diff <= 1e-9 + relativeTolerance * Math.max(Math.abs(a), Math.abs(b)) || (unit === 's' && diff <= TIME_TOLERANCE);
}

/** Differences between the pair's and the single exporter's series, as readable lines. */
function compare(pair: Series[], single: Series[], unit: string): string[] {
  const out: string[] = [];
  const byKey = new Map(pair.map((s) => [key(s.metric), Number(s.value[1])]));
  for (const s of single) {
    const k = key(s.metric);
    const p = byKey.get(k);
    if (p === undefined) out.push(`missing in the pair: ${k}`);
    else if (!close(p, Number(s.value[1]), unit)) out.push(`${k}: pair ${p}, single ${s.value[1]}`);
    byKey.delete(k);
  }
  for (const k of byKey.keys()) out.push(`only in the pair: ${k}`);
  return out;
}

/** Whether two replicas report a series of this query (anything but the exporter's own). */
const readsReplicated = (expr: string) => metricNames(expr).some((n) => /^celery_(?!exporter_)/.test(n));

const dashboards = committedDashboards();
const panelQueries: PanelQuery[] = Object.entries(dashboards).flatMap(([f, d]) => queries(f, d));
const replicatedQueries = panelQueries.filter((q) => readsReplicated(q.expr));
/** The unit Grafana shows a query's values in: a table column's override, else the panel's. */
const unitOf = (q: PanelQuery): string => {
  const p = panels(dashboards[q.dashboard]!).find((x) => x['title'] === q.panel);
  const overrides = (p?.['fieldConfig']?.['overrides'] ?? []) as Array<{ matcher: { options: string }; properties: Array<{ id: string; value: string }> }>;
  const column = overrides.find((o) => o.matcher.options === `Value #${q.refId}`)?.properties.find((x) => x.id === 'unit')?.value;
  return column ?? (p?.['fieldConfig']?.['defaults']?.['unit'] as string | undefined) ?? '';
};

/**
 * One producer process for the whole run: task-sent series carry the producer's hostname
 * (gen<pid>@host), so a producer per round would start new series inside the window, whose first
 * value rate() cannot count and each replica's first scrape cuts at another point. It sends a
 * warm-up round (every task series, the prioritised tasks nobody consumes), waits for the go file,
 * then a task running past the 3 s threshold and standard rounds for the given seconds.
 */
const PRODUCER = `
import os, sys, time
from send import standard
from tasks import add, sleep
qa, qb, prio, go, seconds = sys.argv[1:6]
for priority, n in enumerate([1, 0, 0, 2, 0, 0, 1, 0, 0, 3]):
    for i in range(n):
        add.apply_async((i, i), queue=prio, priority=priority)
sleep.apply_async((0.1,), queue=qa)
standard(qa, qb)
print("warm", flush=True)
while not os.path.exists(go):
    time.sleep(0.1)
sleep.apply_async((6,), queue=qa)
deadline, rounds = time.time() + float(seconds), 0
while time.time() < deadline:
    standard(qa, qb)
    rounds += 1
print("done", rounds, flush=True)
`;

describe('two exporter replicas against a real Prometheus give the single-exporter answer', () => {
  const QA = `replicas-a-${id}`;
  const QB = `replicas-b-${id}`;
  const PRIO = `replicas-prio-${id}`;
  const QP = `replicas-pickle-${id}`;
  const url = redisUrl(REDIS_DB.bundle);
  const exporters: Exporter[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'celery-replicas-'));
  let producer: Spawned | undefined;
  const workers: Worker[] = [];
  let prom: Prometheus | undefined;
  let start = 0;
  let end = 0;
  /** Alerts seen while the workload ran, by job, as label sets without job. */
  const alertsSeen = new Map<string, Set<string>>([
    [PAIR, new Set()],
    [SINGLE, new Set()],
  ]);
  const resolved = new Map<string, Record<string, string>>();
  const api = <T>(path: string, params?: Record<string, string | string[]>) => prom!.api<T>(path, params);
  const instant = (query: string, at = end) => api<{ result: Series[] }>('query', { query, time: String(at) }).then((d) => d.result);

  async function recordAlerts(): Promise<void> {
    for (const a of (await api<{ alerts: Alert[] }>('alerts')).alerts) {
      // The exporter's own alerts are per instance on purpose: each replica is watched alone.
      if (a.labels['instance'] !== undefined || a.labels['job'] === undefined) continue;
      alertsSeen.get(a.labels['job'])?.add(key(a.labels));
    }
  }

  /**
   * Waits until the workers are quiet in both replicas' view — nothing running, reserved or
   * scheduled (the ETA tasks of the last round) — and both have polled and been scraped a few
   * times since, recording alerts meanwhile. Gauges read by remote control then hold still.
   */
  async function settle(): Promise<void> {
    const inFlight = ['active', 'reserved', 'scheduled'].map((s) => `sum(celery_worker_tasks_${s}{job="${PAIR}"})`).join(' + ');
    const busy = () => api<{ result: Series[] }>('query', { query: inFlight }).then((d) => d.result);
    await waitFor(
      async () => (await recordAlerts(), await busy()),
      (r) => r.length === 1 && r[0]!.value[1] === '0',
      { what: 'workers idle', timeoutMs: 60_000, intervalMs: 500 },
    );
    await new Promise((r) => setTimeout(r, 4_000 * Math.max(SCRAPE, INSPECT_INTERVAL)));
    await recordAlerts();
  }

  beforeAll(async () => {
    await flushDb(REDIS_DB.bundle);
    const args = [
      '--broker-url', url,
      '--queue-poll-interval', '1',
      '--queue-discovery-interval', '1',
      '--long-running-task-threshold', '3',
      '--inspect-poll-interval', String(INSPECT_INTERVAL),
      '--enable-events-interval', '5',
      '--periodic-task', 'tests.add=1h', '--periodic-task', 'tests.fail_*=1h', '--periodic-task', 'tests.never=2s',
    ];
    // The first replica starts first: the periodic-task rules count from the earlier start.
    for (let i = 0; i < 2; i++) {
      const e = await startExporter(args);
      exporters.push(e);
      await waitFor(() => fetch(`${e.url}/readyz`).then((r) => r.status), (s) => s === 200, { what: `replica ${i} ready` });
    }
    workers.push(await startWorker({ brokerUrl: url, queues: [QA, QB], name: `replicas-${id}@vm`, concurrency: 3, env: { TASK_ACKS_LATE: '1' } }));
    workers.push(await startWorker({ brokerUrl: url, queues: [QP], name: `replicas-pickle-${id}@vm`, concurrency: 1, env: { TASK_SERIALIZER: 'pickle' } }));
    const go = join(dir, 'go');
    producer = spawnTracked(PYTHON, ['-c', PRODUCER, QA, QB, PRIO, go, String(WORKLOAD_SECONDS)], {
      cwd: CELERY_DIR,
      env: { ...process.env, BROKER_URL: url, BROKER_TRANSPORT_OPTIONS: '{}', PYTHONUNBUFFERED: '1' },
    });
    await producer.waitForOutput(/^warm$/m, 60_000);
    // Prometheus starts once the warm-up is counted: every series it will see exists, with the
    // same value, in both replicas at their first scrape.
    const active = async () => sum(parseMetrics(await (await fetch(`${exporters[0]!.url}/metrics`)).text()), 'celery_worker_tasks_active');
    await waitFor(active, (n) => n === 0, { what: 'warm-up done', timeoutMs: 60_000, intervalMs: 500 });
    await new Promise((r) => setTimeout(r, 3_000));
    const [a, b] = exporters.map((e) => `127.0.0.1:${e.port}`);
    prom = await startPrometheus([a!, b!], `${SCRAPE}s`, { [SINGLE]: [a!] });
    await waitFor(() => api<{ result: Series[] }>('query', { query: 'up == 1' }), (d) => d.result.length === 3, { what: 'a first scrape of every target' });
    // Every target is scraped at least twice between the window's start and the first event of
    // the run (the 6 s task, sent as soon as the go file exists). Without that margin a replica
    // whose first in-window scrape falls after that event sees no increase where the other replica,
    // scraped a moment earlier, sees one: a rate of 1/window apart on `tests.sleep` (CI saw 0.026
    // against 0 in 12 checks).
    start = Math.ceil(Date.now() / 1000);
    await twoScrapesAfter(start);
    writeFileSync(go, '');
    while (!/^done/m.test(producer.output())) {
      await recordAlerts();
      await new Promise((r) => setTimeout(r, 500));
    }
    await settle();
    end = Math.floor(Date.now() / 1000);
    // Scraped data one interval past the end exists before anything is compared (see the retry below).
    await twoScrapesAfter(end);
    relativeTolerance = Math.max(0.02, (1.5 * SCRAPE) / (end - start));
    // Windows that span everything Prometheus saw; variables resolved over both jobs, as Grafana does.
    const window = `${end - start}s`;
    for (const [file, d] of Object.entries(dashboards)) {
      const values: Record<string, string> = { __rate_interval: window, __interval: `${SCRAPE}s`, __range: window, job: PAIR };
      for (const v of variables(file, d).filter((x) => x.type === 'query' && x.name !== 'job')) {
        const { selector, label } = parseLabelValues(v.query);
        const raw = await api<string[]>(`label/${label}/values`, { 'match[]': interpolate(selector, values), start: String(start), end: String(end) });
        values[v.name] = formatMulti(raw);
      }
      resolved.set(file, values);
    }
  }, 300_000 + WORKLOAD_SECONDS * 1000);

  afterAll(async () => {
    await producer?.stop();
    for (const w of workers) await w.stop();
    await prom?.cleanup();
    for (const e of exporters) await e.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has both replicas count every event: without deduplication the pair reads double', async () => {
    const total = async (job: string) => Number((await instant(`sum(celery_task_succeeded_total{job="${job}"})`))[0]?.value[1] ?? 'NaN');
    const [pair, single] = [await total(PAIR), await total(SINGLE)];
    expect(single).toBeGreaterThan(20);
    expect(pair).toBe(2 * single);
  });

  it.each(replicatedQueries.map((q) => [`${q.dashboard} › ${q.panel} › ${q.refId}`, q] as const))('%s', async (_label, q) => {
    const values = resolved.get(q.dashboard)!;
    const [pair, single] = await Promise.all([PAIR, SINGLE].map((job) => instant(interpolate(q.expr, { ...values, job }))));
    const unit = unitOf(q);
    let diffs = compare(pair!, single!, unit);
    for (const at of [end - SCRAPE, end + SCRAPE]) {
      if (diffs.length === 0) break;
      // One heartbeat newer in one replica: the single exporter a scrape earlier or later agrees.
      if (compare(pair!, await instant(interpolate(q.expr, { ...values, job: SINGLE }), at), unit).length === 0) diffs = [];
    }
    expect(diffs.join('\n'), interpolate(q.expr, values)).toBe('');
  });

  it.each(recordingRules().map((r) => [`${r.record}${r.labels?.['quantile'] ? ` q${r.labels['quantile']}` : ''}`, r] as const))(
    'recording rule %s',
    async (_label, r) => {
      const matcher = r.labels?.['quantile'] ? `, quantile="${r.labels['quantile']}"` : '';
      const [pair, single] = await Promise.all([PAIR, SINGLE].map((job) => instant(`${r.record}{job="${job}"${matcher}}`)));
      expect(single!.length, `${r.record} has data`).toBeGreaterThan(0);
      expect(compare(pair!, single!, '').join('\n')).toBe('');
    },
  );

  it('raises the same task, worker, queue and periodic alerts for the pair as for one exporter', () => {
    const single = [...alertsSeen.get(SINGLE)!].sort();
    expect(single.length).toBeGreaterThanOrEqual(5);
    expect([...alertsSeen.get(PAIR)!].sort()).toEqual(single);
  });

  it('counts what it compared', () => {
    const withData = replicatedQueries.length;
    console.log(
      `replicas proof: ${withData} of ${panelQueries.length} dashboard queries read replicated series and were compared ` +
        `(${panelQueries.length - withData} read only the exporter's own series, per instance), ` +
        `${recordingRules().length} recording rules, ${alertsSeen.get(SINGLE)!.size} alert series, over ${end - start} s`,
    );
    expect(withData).toBeGreaterThan(100);
  });
});
