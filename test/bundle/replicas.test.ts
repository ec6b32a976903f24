import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { promtool } from '../helpers/promtool.js';
import { RULE_TESTS_DIR, RULES_DIR, ruleFiles } from '../helpers/rules.js';
import { committedDashboards, queries } from '../helpers/dashboards.js';
import { deduplicateReplicas } from '../../grafana/src/replicas.js';

/**
 * Two exporter replicas on one broker (docs/deployment.md) must not change what a rule answers.
 * Every promtool unit test of prometheus/tests/ is run again with each celery_* input series
 * reported twice: once as written, once by a second replica (another `instance`, a `pod` label)
 * whose counters stand 1000 higher (it started earlier). The expected alerts and samples stay the
 * ones written for one exporter. The exporter's own series (celery_exporter_*, up) are not
 * doubled: their alerts are per instance on purpose.
 */
interface InputSeries {
  series: string;
  values: string;
}
interface TestGroup {
  name: string;
  input_series?: InputSeries[];
}
interface TestFile {
  tests: TestGroup[];
}

const REPLICA = { instance: 'replica-2:8888', pod: 'celery-exporter-1' };
const COUNTER_OFFSET = 1000;
const tmp: string[] = [];
afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

/** Whether two replicas report this series (everything the event stream or the broker gives). */
export function replicated(series: string): boolean {
  // replicas.test.yml's series carry `pod` already: they are two replicas as written.
  return /^celery_/.test(series) && !/^celery_exporter_/.test(series) && !series.includes('pod=');
}

/**
 * Counters each exporter process counts itself (from events): a replica started earlier stands
 * higher. Broker counters (celery_broker_*_total) are read from the broker: equal in both.
 */
const isOwnCounter = (series: string) => /^celery_task_[a-z_]+_(total|sum|count|bucket)\{/.test(series);

/** The same series as a second replica reports it: its instance and pod labels. */
export function asReplica(s: InputSeries): InputSeries {
  const labels = s.series.replace(/,?\s*instance="[^"]*"/, '').replace(/\{\s*,\s*/, '{');
  const extra = `instance="${REPLICA.instance}", pod="${REPLICA.pod}"`;
  const series = labels.endsWith('{}') ? labels.replace('{}', `{${extra}}`) : labels.replace('{', `{${extra}, `);
  return { series, values: isOwnCounter(s.series) ? offsetValues(s.values, COUNTER_OFFSET) : s.values };
}

/** promtool's expanding notation (`a`, `a+bxn`, `a-bxn`, `axn`, `_`, `stale`) with `offset` added to each start. */
export function offsetValues(values: string, offset: number): string {
  return values
    .trim()
    .split(/\s+/)
    .map((t) => t.replace(/^(-?[0-9.e]+)(?=$|[-+x])/, (n) => String(Number(n) + offset)))
    .join(' ');
}

function withReplicas(file: TestFile): TestFile {
  return {
    ...file,
    tests: file.tests.map((g) => ({
      ...g,
      input_series: (g.input_series ?? []).flatMap((s) => (replicated(s.series) ? [s, asReplica(s)] : [s])),
    })),
  };
}

const files = readdirSync(RULE_TESTS_DIR).filter((f) => f.endsWith('.test.yml')).sort();

describe('rules with two exporter replicas', () => {
  it('doubles series as a second replica reports them', () => {
    expect(asReplica({ series: 'celery_task_sent_total{job="celery", instance="e:8888", name="a"}', values: '0+60x10 _ 5x2 stale' })).toEqual({
      series: 'celery_task_sent_total{instance="replica-2:8888", pod="celery-exporter-1", job="celery", name="a"}',
      values: '1000+60x10 _ 1005x2 stale',
    });
    expect(asReplica({ series: 'celery_worker_up{instance="e:8888", hostname="h"}', values: '1 0x3' }).values).toBe('1 0x3');
    expect(replicated('celery_exporter_broker_up{}')).toBe(false);
    expect(replicated('up{job="celery"}')).toBe(false);
  });

  it.each(files)('%s: every alert and record gives the single-exporter answer', async (file) => {
    const dir = mkdtempSync(join(tmpdir(), 'celery-replica-rules-'));
    tmp.push(dir);
    cpSync(RULES_DIR, join(dir, 'rules'), { recursive: true });
    cpSync(RULE_TESTS_DIR, join(dir, 'tests'), { recursive: true });
    const doubled = withReplicas(parse(readFileSync(join(RULE_TESTS_DIR, file), 'utf8')) as TestFile);
    const replicatedCount = doubled.tests.flatMap((g) => g.input_series ?? []).filter((s) => s.series.includes(REPLICA.instance)).length;
    writeFileSync(join(dir, 'tests', file), stringify(doubled, { lineWidth: 0 }));
    const r = await promtool(['test', 'rules', join(dir, 'tests', file)]);
    expect(r.output, r.output.slice(0, 4000)).not.toMatch(/FAILED/);
    expect(r.code).toBe(0);
    console.log(`${file}: ${replicatedCount} series doubled`);
  });

  it('the rule files deduplicate every celery_* series before aggregating it', () => {
    const unguarded = ruleFiles()
      .flatMap((f) => f.groups.flatMap((g) => g.rules))
      .filter((r) => !r.alert?.startsWith('CeleryExporter')) // per instance on purpose
      .flatMap((r) => unguardedSeries(r.expr).map((m) => `${r.alert ?? r.record}: ${m}`));
    expect(unguarded).toEqual([]);
  });
});

describe('dashboards with two exporter replicas', () => {
  it('deduplicate a selector, a range function of one, and leave the exporter\'s own series', () => {
    expect(deduplicateReplicas('sum by (le) (rate(celery_task_runtime_seconds_bucket{job=~"$job"}[$__rate_interval]))')).toBe(
      'sum by (le) (max without (instance, pod) (rate(celery_task_runtime_seconds_bucket{job=~"$job"}[$__rate_interval])))',
    );
    expect(deduplicateReplicas('count(celery_worker_up{job=~"$job"}) - sum(celery_worker_up{job=~"$job"})')).toBe(
      'count(max without (instance, pod) (celery_worker_up{job=~"$job"})) - sum(max without (instance, pod) (celery_worker_up{job=~"$job"}))',
    );
    expect(deduplicateReplicas('rate(celery_exporter_events_total{job=~"$job"}[1m])')).toBe('rate(celery_exporter_events_total{job=~"$job"}[1m])');
  });

  it('read every celery_* series of every panel deduplicated', () => {
    const all = Object.entries(committedDashboards()).flatMap(([f, d]) => queries(f, d));
    expect(all.length).toBeGreaterThan(100);
    const unguarded = all.flatMap((q) => unguardedSeries(q.expr).map((m) => `${q.dashboard} › ${q.panel} › ${q.refId}: ${m}`));
    expect(unguarded).toEqual([]);
  });
});

/** celery_* metrics (not the exporter's own) of an expression read without `max without (instance, pod)` first. */
function unguardedSeries(expr: string): string[] {
  const out: string[] = [];
  for (const m of expr.matchAll(/(?<![:\w])(celery_(?!exporter_)[a-z_]+)(?![:\w])/g)) {
    if (!/max without \(instance, pod\) \((\w+\()?$/.test(expr.slice(0, m.index))) out.push(m[1]!);
  }
  return out;
}
