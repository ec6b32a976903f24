/**
 * deploy/kubernetes/prometheusrule.yaml is generated from prometheus/rules/*.yml: the rule files are
 * the one source, this is their Prometheus Operator wrapping. `npm run bundle:generate` rewrites it;
 * test/bundle/kubernetes-manifests.test.ts fails when the committed file differs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

export const PROMETHEUS_RULE_FILE = join('deploy', 'kubernetes', 'prometheusrule.yaml');

const HEADER = `# GENERATED from prometheus/rules/*.yml by \`npm run bundle:generate\` — do not edit; change the
# rule files instead. For the Prometheus Operator: kube-prometheus-stack only loads rules carrying
# its Helm release label, so set \`release\` to your release name (or adjust ruleSelector).
`;

export function prometheusRule(root: string): string {
  const dir = join(root, 'prometheus', 'rules');
  const groups = readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .flatMap((f) => (parse(readFileSync(join(dir, f), 'utf8')) as { groups: unknown[] }).groups);
  const manifest = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'celery-exporter',
      labels: { 'app.kubernetes.io/name': 'celery-exporter', 'app.kubernetes.io/part-of': 'celery', release: 'prometheus' },
    },
    spec: { groups },
  };
  return HEADER + stringify(manifest, { lineWidth: 0 });
}
