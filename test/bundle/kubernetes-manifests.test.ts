import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { prometheusRule, PROMETHEUS_RULE_FILE } from '../../deploy/kubernetes/src/prometheus-rule.js';
import { only, parseDockerfile } from '../helpers/dockerfile.js';
import { ROOT } from '../helpers/exporter.js';
import { knownKinds, loadManifests, schemaErrors, strictFieldErrors, type Manifest } from '../helpers/kubernetes.js';
import { alertRules, ruleFiles } from '../helpers/rules.js';
import { ENV_PREFIX } from '../../src/config/defaults.js';
import { daemonOptions } from '../../src/config/options.js';

/**
 * deploy/kubernetes/: schema-valid (kubernetes-models' JSON schemas, offline), free of unknown
 * fields (TypeScript excess-property checks against the same models), hardened, wired together
 * (selectors, ports, the broker Secret), and the PrometheusRule generated from prometheus/rules.
 */
const manifests = loadManifests();
const byKind = (kind: string) => manifests.filter((m) => m.doc['kind'] === kind);
const docOf = (kind: string, name: string) => byKind(kind).find((m) => m.doc['metadata']['name'] === name)!.doc;
const podSpec = (d: Manifest) => d['spec']['template']['spec'] as Manifest;
const allContainers = (d: Manifest): Manifest[] => [...(podSpec(d)['initContainers'] ?? []), ...podSpec(d)['containers']];
const isExporter = (c: Manifest) => String(c['image']).includes('celery-prometheus-exporter');
const exporterContainers = [...byKind('Deployment'), ...byKind('StatefulSet')].flatMap((m) => allContainers(m.doc).filter(isExporter).map((c) => ({ file: m.file, c, pod: podSpec(m.doc) })));
/** Environment twins of the flags (CELERY_EXPORTER_<FLAG>), from the option table. */
const KNOWN_ENV = Object.keys(daemonOptions).map((f) => `${ENV_PREFIX}_${f.toUpperCase().replace(/-/g, '_')}`);
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('Kubernetes manifests', () => {
  it('are all of kinds we can validate, with the expected set present', () => {
    for (const m of manifests) expect(knownKinds(), `${m.file}: ${m.doc['kind']}`).toContain(m.doc['kind']);
    expect(manifests.map((m) => `${m.doc['kind']}/${m.doc['metadata']['name']}`).sort()).toEqual(
      [
        'ConfigMap/prometheus-adapter',
        'PodDisruptionBudget/celery-exporter',
        'StatefulSet/celery-exporter',
        'Deployment/celery-worker',
        'HorizontalPodAutoscaler/celery-worker',
        'PodMonitor/celery-worker',
        'PrometheusRule/celery-exporter',
        'ScaledObject/celery-worker',
        'Secret/celery-broker',
        'Service/celery-exporter',
        'ServiceMonitor/celery-exporter',
      ].sort(),
    );
  });

  it.each(manifests.map((m) => [`${m.file} ${m.doc['kind']}`, m.doc] as const))('%s passes schema validation', (_f, doc) => {
    expect(schemaErrors(doc)).toEqual([]);
  });

  it('have no unknown or mistyped fields', { timeout: 60_000 }, () => {
    expect(strictFieldErrors(manifests.map((m) => m.doc))).toEqual([]);
  });

  it('the validators catch a mistyped field and an unknown one', { timeout: 60_000 }, () => {
    const bad = structuredClone(docOf('StatefulSet', 'celery-exporter'));
    bad['spec']['template']['spec']['containers'][0]['ports'][0]['containerPort'] = 'http';
    expect(schemaErrors(bad).join()).toMatch(/containerPort must be integer/);
    const typo = structuredClone(docOf('StatefulSet', 'celery-exporter'));
    typo['spec']['template']['spec']['containers'][0]['imagePullPolcy'] = 'Always';
    const monitorTypo = structuredClone(docOf('ServiceMonitor', 'celery-exporter'));
    monitorTypo['spec']['endpoints'][0]['scrapeInterval'] = '15s';
    const errors = strictFieldErrors([typo, monitorTypo]);
    expect(errors).toHaveLength(2);
    expect(errors.join('\n')).toMatch(/imagePullPolcy/);
    expect(errors.join('\n')).toMatch(/scrapeInterval/);
  });

  it('run the exporter image as a sidecar beside a worker and as a standalone StatefulSet', () => {
    const worker = docOf('Deployment', 'celery-worker');
    const sidecar = (podSpec(worker)['initContainers'] as Manifest[]).find(isExporter)!;
    // A native sidecar: an init container that keeps running.
    expect(sidecar['restartPolicy']).toBe('Always');
    expect((podSpec(worker)['containers'] as Manifest[]).some((c) => !isExporter(c))).toBe(true);
    expect(allContainers(docOf('StatefulSet', 'celery-exporter')).filter(isExporter)).toHaveLength(1);
    expect(exporterContainers).toHaveLength(2);
    // The sidecar's worker: one replica, so one exporter, never two during a rollout.
    expect(docOf('Deployment', 'celery-worker')['spec']['replicas']).toBe(1);
    expect(docOf('Deployment', 'celery-worker')['spec']['strategy']['type']).toBe('Recreate');
  });

  it('run the standalone exporter as two replicas with a stable identity, a volume and an event queue each', () => {
    const set = docOf('StatefulSet', 'celery-exporter');
    expect(set['spec']['replicas']).toBe(2);
    expect(set['spec']['updateStrategy']['type']).toBe('RollingUpdate');
    expect(set['spec']['serviceName']).toBe(docOf('Service', 'celery-exporter')['metadata']['name']);
    const c = allContainers(set).find(isExporter)!;
    const env = Object.fromEntries((c['env'] as Manifest[]).map((e) => [e['name'], e]));
    // The state file lies on the per-pod volume.
    const claim = set['spec']['volumeClaimTemplates'][0];
    const mount = (c['volumeMounts'] as Manifest[]).find((m) => m['name'] === claim['metadata']['name'])!;
    expect(env['CELERY_EXPORTER_STATE_FILE']['value']).toMatch(new RegExp(`^${mount['mountPath']}/[^/]+$`));
    expect(claim['spec']['accessModes']).toEqual(['ReadWriteOnce']);
    // A named event queue per replica: the pod name, which the StatefulSet keeps across replacements.
    expect(env['POD_NAME']['valueFrom']).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(env['CELERY_EXPORTER_EVENT_QUEUE_NAME']['value']).toBe('celeryev.exporter.$(POD_NAME)');
    // Kubernetes expands $(POD_NAME) only from a variable defined before it.
    expect(Object.keys(env).indexOf('POD_NAME')).toBeLessThan(Object.keys(env).indexOf('CELERY_EXPORTER_EVENT_QUEUE_NAME'));
    // Every CELERY_EXPORTER_* variable is the twin of a flag of the option table.
    for (const name of Object.keys(env).filter((n) => n.startsWith('CELERY_EXPORTER_'))) {
      expect(KNOWN_ENV, name).toContain(name);
    }
    expect(podSpec(set)['securityContext']['fsGroup']).toBe(podSpec(set)['securityContext']['runAsGroup']);
  });

  it('let voluntary disruptions take at most one of the two replicas', () => {
    const set = docOf('StatefulSet', 'celery-exporter');
    const pdb = docOf('PodDisruptionBudget', 'celery-exporter');
    expect(matches(pdb['spec']['selector']['matchLabels'], set['spec']['template']['metadata']['labels'])).toBe(true);
    const spec = pdb['spec'] as Manifest;
    const allowedDown = spec['maxUnavailable'] ?? set['spec']['replicas'] - spec['minAvailable'];
    expect(allowedDown).toBe(1);
  });

  it('give the worker and the exporter the broker URL from the same Secret', () => {
    const secret = docOf('Secret', 'celery-broker');
    const key = Object.keys(secret['stringData'])[0];
    expect(key).toBe('CELERY_BROKER_URL');
    const ref = (c: Manifest) => (c['env'] as Manifest[]).find((e) => e['name'] === 'CELERY_BROKER_URL')?.['valueFrom']?.['secretKeyRef'];
    for (const c of allContainers(docOf('Deployment', 'celery-worker'))) expect(ref(c), c['name']).toEqual({ name: 'celery-broker', key });
    for (const { c } of exporterContainers) expect(ref(c)).toEqual({ name: 'celery-broker', key });
  });

  it.each(exporterContainers.map((x) => [x.file, x] as const))('%s: exporter probes, resources and hardened security context', (_f, { c, pod }) => {
    const port = (c['ports'] as Manifest[]).find((p) => p['name'] === 'metrics')!;
    expect(port['containerPort']).toBe(8888);
    expect(c['livenessProbe']['httpGet']).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c['readinessProbe']['httpGet']).toEqual({ path: '/readyz', port: 'metrics' });
    expect(c['resources']['requests']).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
    expect(c['resources']['limits']).toMatchObject({ memory: expect.anything() });
    const sc = c['securityContext'] as Manifest;
    expect(sc).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(sc['privileged'] ?? false).toBe(false);
    // The uid the image declares, so runAsNonRoot holds with any runtime.
    const user = only(parseDockerfile().at(-1)!, 'USER')[0]!.args[0]!;
    expect(`${sc['runAsUser']}:${sc['runAsGroup']}`).toBe(user);
    expect(pod['securityContext']['seccompProfile']).toEqual({ type: 'RuntimeDefault' });
    expect(pod['automountServiceAccountToken']).toBe(false);
    // The V8 heap fits the memory limit.
    const heap = Number(/--max-old-space-size=(\d+)/.exec((c['env'] as Manifest[]).find((e) => e['name'] === 'NODE_OPTIONS')?.['value'] ?? '')?.[1]);
    expect(heap).toBeLessThan(Number(/^(\d+)Mi$/.exec(c['resources']['limits']['memory'])?.[1]));
  });

  it('wire the Service and ServiceMonitor to the standalone exporter, the PodMonitor to the sidecar', () => {
    const exporter = docOf('StatefulSet', 'celery-exporter');
    const svc = docOf('Service', 'celery-exporter');
    expect(matches(svc['spec']['selector'], exporter['spec']['template']['metadata']['labels'])).toBe(true);
    expect(svc['spec']['ports'][0]).toMatchObject({ name: 'metrics', port: 8888, targetPort: 'metrics' });
    const sm = docOf('ServiceMonitor', 'celery-exporter');
    expect(matches(sm['spec']['selector']['matchLabels'], svc['metadata']['labels'])).toBe(true);
    expect(sm['spec']['endpoints'][0]).toMatchObject({ port: 'metrics', path: '/metrics' });
    const worker = docOf('Deployment', 'celery-worker');
    const pm = docOf('PodMonitor', 'celery-worker');
    expect(matches(pm['spec']['selector']['matchLabels'], worker['spec']['template']['metadata']['labels'])).toBe(true);
    const sidecarPorts = (podSpec(worker)['initContainers'] as Manifest[]).find(isExporter)!['ports'] as Manifest[];
    expect(sidecarPorts.map((p) => p['name'])).toContain(pm['spec']['podMetricsEndpoints'][0]['port']);
    // The Operator names the jobs after the Service and <namespace>/<PodMonitor>: both must match
    // the job selector of CeleryExporterDown/Absent, or those alerts watch nothing.
    const down = alertRules().find((a) => a.alert === 'CeleryExporterDown')!;
    const selector = new RegExp(`^(?:${/job=~"([^"]+)"/.exec(down.expr)![1]})$`);
    expect(svc['metadata']['name']).toMatch(selector);
    expect(`default/${pm['metadata']['name']}`).toMatch(selector);
  });

  it('ship the PrometheusRule generated from prometheus/rules, never a hand-kept copy', () => {
    const committed = readFileSync(join(ROOT, PROMETHEUS_RULE_FILE), 'utf8');
    expect(committed, 'stale: run npm run bundle:generate').toBe(prometheusRule(ROOT));
    const rule = parse(committed) as Manifest;
    expect(rule['spec']['groups']).toEqual(ruleFiles().flatMap((f) => f.groups));
  });
});
