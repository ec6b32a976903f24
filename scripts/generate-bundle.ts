import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prometheusRule, PROMETHEUS_RULE_FILE } from '../deploy/kubernetes/src/prometheus-rule.js';
import { dashboards } from '../grafana/src/index.js';
import { render } from '../grafana/src/lib.js';
import { ROOT } from './lib/root.js';

/**
 * `npm run bundle:generate`: writes the generated files that ship beside the code — the Grafana
 * dashboards (grafana/dashboards/*.json, from grafana/src/*.ts) and the PrometheusRule
 * (deploy/kubernetes/prometheusrule.yaml, from prometheus/rules/*.yml). The bundle tests
 * (test/bundle/) fail when a committed file differs from what its source produces.
 */
const files: Array<[string, string]> = [
  ...Object.entries(dashboards).map(([file, d]): [string, string] => [join('grafana', 'dashboards', file), render(d)]),
  [PROMETHEUS_RULE_FILE, prometheusRule(ROOT)],
];

for (const [file, text] of files) {
  const path = join(ROOT, file);
  let before = '';
  try {
    before = readFileSync(path, 'utf8');
  } catch {
    // a new file
  }
  if (before !== text) writeFileSync(path, text);
  console.log(`${file}: ${before === text ? 'up to date' : 'rewritten'}`);
}
