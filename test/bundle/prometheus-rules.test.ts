import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../helpers/exporter.js';
import { promtool } from '../helpers/promtool.js';
import { alertRules, kebab, recordingRules, RULE_TESTS_DIR, RULES_DIR, ruleFiles } from '../helpers/rules.js';

/**
 * The shipped Prometheus rules: promtool accepts them, their unit tests pass, every alert carries
 * what an operator needs, and every alert's tests pin the firing boundary exactly (a mutation of
 * its `for` by one evaluation must break them).
 */
interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts?: unknown[];
}
interface TestGroup {
  name: string;
  alert_rule_test?: AlertTest[];
}
const testFiles = readdirSync(RULE_TESTS_DIR)
  .filter((f) => f.endsWith('.test.yml'))
  .sort()
  .map((f) => ({ file: f, groups: (parse(readFileSync(join(RULE_TESTS_DIR, f), 'utf8')) as { tests: TestGroup[] }).tests }));

const alerts = alertRules();
const tmp: string[] = [];
afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

describe('Prometheus rules', () => {
  it('pass promtool check rules', async () => {
    const files = ruleFiles().map((f) => f.path);
    expect(files.length).toBeGreaterThanOrEqual(2);
    const r = await promtool(['check', 'rules', ...files]);
    expect(r.output).not.toMatch(/FAILED|error/i);
    expect(r.code).toBe(0);
  });

  it('pass their promtool unit tests', async () => {
    const r = await promtool(['test', 'rules', ...testFiles.map((t) => join(RULE_TESTS_DIR, t.file))]);
    expect(r.output, r.output).not.toMatch(/FAILED/);
    expect(r.code).toBe(0);
  });

  it('cover every alert the bundle promises', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      [
        'CeleryBrokerEvictingKeys',
        'CeleryBrokerUnreachable',
        'CeleryExporterAbsent',
        'CeleryExporterDown',
        'CeleryExporterEvictingTasks',
        'CeleryExporterInvalidEvents',
        'CeleryExporterNoEvents',
        'CeleryExporterReconnecting',
        'CeleryPeriodicTaskFailing',
        'CeleryPeriodicTaskOverdue',
        'CeleryQueueLengthHigh',
        'CeleryQueueNoConsumers',
        'CeleryQueueOldestPendingTooOld',
        'CeleryQueuePollFailing',
        'CeleryQueueWaitHigh',
        'CeleryTaskFailureRatioHigh',
        'CeleryTaskRunningTooLong',
        'CeleryWorkerDown',
        'CeleryWorkerNotAnsweringPing',
        'CeleryWorkerSaturated',
      ].sort(),
    );
  });

  it.each(alerts.map((a) => [a.alert!, a] as const))('%s has severity, summary, description, a runbook page and a for', (name, a) => {
    expect(['critical', 'warning', 'info']).toContain(a.labels?.['severity']);
    expect(a.annotations?.['summary']).toMatch(/^[A-Z].*\.$/);
    expect(a.annotations?.['summary']).not.toContain('{{');
    // Templated per alert, except for absent(), whose result has no labels to name.
    if (!a.expr.startsWith('absent(')) expect(a.annotations?.['description']).toMatch(/\{\{ ?\$(labels|value)/);
    expect(a.annotations?.['description']?.length).toBeGreaterThan(40);
    const url = a.annotations?.['runbook_url'] ?? '';
    expect(url).toMatch(new RegExp(`(^|/)docs/runbooks/${kebab(name)}\\.md$`));
    const page = join(ROOT, 'docs', 'runbooks', `${kebab(name)}.md`);
    expect(existsSync(page), page).toBe(true);
    const text = readFileSync(page, 'utf8');
    expect(text.startsWith(`# ${name}\n`)).toBe(true);
    for (const section of ['## Meaning', '## First checks', '## Likely fixes']) expect(text).toContain(section);
    expect(a.for).toMatch(/^\d+[smh]$/);
    // The runbook index lists it with its severity.
    expect(readFileSync(join(ROOT, 'docs', 'runbooks', 'README.md'), 'utf8')).toContain(`| \`${name}\` | ${a.labels?.['severity']} |`);
  });

  it.each(alerts.map((a) => [a.alert!] as const))('%s has a firing, a not-yet-firing and a must-not-fire test', (name) => {
    const groups = testFiles.flatMap((t) => t.groups);
    const cases = (prefix: string) =>
      groups
        .filter((g) => g.name.startsWith(`${name} ${prefix}`))
        .flatMap((g) => g.alert_rule_test ?? [])
        .filter((t) => t.alertname === name);
    const fires = cases('fires');
    expect(fires.length).toBeGreaterThan(0);
    for (const t of fires) expect(t.exp_alerts?.length ?? 0).toBeGreaterThan(0);
    for (const prefix of ['not yet', 'must not fire']) {
      const c = cases(prefix);
      expect(c.length, `${name} ${prefix}`).toBeGreaterThan(0);
      for (const t of c) expect(t.exp_alerts ?? []).toEqual([]);
    }
  });

  it('record names follow level:metric:operations and every record is unit-tested', () => {
    const records = recordingRules();
    expect(records.length).toBeGreaterThan(10);
    const used = [...testFiles.map((t) => readFileSync(join(RULE_TESTS_DIR, t.file), 'utf8'))].join('\n');
    const untested: string[] = [];
    for (const r of records) {
      expect(r.record).toMatch(/^[a-z_]+:celery_[a-z_]+:[a-z0-9_]+$/);
      if (!used.includes(r.record!)) untested.push(r.record!);
    }
    expect(untested).toEqual([]);
  });

  // Moving `for` one evaluation earlier must make the not-yet case fire, and one evaluation later
  // must make the firing case stay silent: the tests sit exactly on the boundary.
  it('pins every alert’s `for` boundary (mutation test)', { timeout: 180_000 }, async () => {
    const alertsFile = ruleFiles().find((f) => f.groups.some((g) => g.rules.some((r) => r.alert)))!.path;
    const source = readFileSync(alertsFile, 'utf8');
    const jobs: Array<() => Promise<string | undefined>> = [];
    for (const a of alerts) {
      const minutes = Number(/^(\d+)m$/.exec(a.for ?? '')?.[1]);
      expect(minutes, `${a.alert} for ${a.for}`).toBeGreaterThan(0);
      const testFile = testFiles.find((t) => t.groups.some((g) => g.name.startsWith(`${a.alert} `)))!.file;
      for (const [delta, mustBreak] of [
        [-1, `${a.alert} not yet`],
        [+1, `${a.alert} fires`],
      ] as const) {
        jobs.push(async () => {
          const dir = mkdtempSync(join(tmpdir(), 'celery-rules-'));
          tmp.push(dir);
          cpSync(RULES_DIR, join(dir, 'rules'), { recursive: true });
          cpSync(RULE_TESTS_DIR, join(dir, 'tests'), { recursive: true });
          const mutated = mutateFor(source, a.alert!, `${minutes + delta}m`);
          expect(mutated).not.toBe(source);
          writeFileSync(join(dir, 'rules', alertsFile.split('/').pop()!), mutated);
          const r = await promtool(['test', 'rules', join(dir, 'tests', testFile)]);
          const broke = r.code !== 0 && r.output.includes(`name: ${mustBreak},`);
          return broke ? undefined : `${a.alert} for ${minutes + delta}m did not break "${mustBreak}":\n${r.output.slice(0, 800)}`;
        });
      }
    }
    const failures: string[] = [];
    for (let i = 0; i < jobs.length; i += 4) {
      for (const f of await Promise.all(jobs.slice(i, i + 4).map((j) => j()))) if (f) failures.push(f);
    }
    expect(failures).toEqual([]);
  });
});

/** The alerts file with one alert's `for:` replaced (the first `for:` after its `- alert:` line). */
function mutateFor(source: string, alert: string, value: string): string {
  const start = source.indexOf(`- alert: ${alert}\n`);
  const at = source.indexOf('for: ', start);
  const end = source.indexOf('\n', at);
  return `${source.slice(0, at)}for: ${value}${source.slice(end)}`;
}
