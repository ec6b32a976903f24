import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../grafana/src/lib.js';
import { ROOT } from '../helpers/exporter.js';

/** The README's "Supported versions" table, row by component: [requirement, tested with]. */
function supportedVersions(): Map<string, [string, string]> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Supported versions'), readme.indexOf('## Documentation'));
  const rows = new Map<string, [string, string]>();
  for (const line of table.split('\n')) {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
    if (cells.length === 5 && cells[1] !== 'Component' && !cells[1]!.startsWith('-')) rows.set(cells[1]!, [cells[2]!, cells[3]!]);
  }
  return rows;
}

/** The `^a.b.c || >=n` forms package.json engines uses. */
function satisfies(version: string, range: string): boolean {
  const v = version.split('.').map(Number);
  const atLeast = (min: number[]) => v[0]! > min[0]! || (v[0] === min[0] && (v[1]! > min[1]! || (v[1] === min[1] && v[2]! >= min[2]!)));
  return range.split('||').some((part) => {
    const m = /^\s*(\^|>=)(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(part);
    if (!m) throw new Error(`unsupported range ${part}`);
    const min = [Number(m[2]), Number(m[3] ?? 0), Number(m[4] ?? 0)];
    return atLeast(min) && (m[1] === '>=' || v[0] === min[0]);
  });
}

describe('the supported versions the README states', () => {
  const rows = supportedVersions();

  it('name every component', () => {
    expect([...rows.keys()]).toEqual(['Node.js', 'Celery', 'Redis', 'RabbitMQ', 'Prometheus', 'Grafana']);
  });

  it('give the Node.js range of package.json engines, and the container image runs a Node.js in it', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(rows.get('Node.js')![0]).toContain(`\`${pkg.engines.node}\``);
    const major = /ARG NODE_MAJOR=(\d+)/.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))![1];
    expect(rows.get('Node.js')![1]).toContain(`${major} (the container image)`);
    expect(satisfies(process.versions.node, pkg.engines.node), `this Node.js ${process.versions.node} is outside ${pkg.engines.node}`).toBe(true);
  });

  it('give the schemaVersion every shipped dashboard has', () => {
    expect(rows.get('Grafana')![0]).toContain(`schemaVersion ${SCHEMA_VERSION}`);
    const dir = join(ROOT, 'grafana', 'dashboards');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
      expect((JSON.parse(readFileSync(join(dir, f), 'utf8')) as { schemaVersion: number }).schemaVersion, f).toBe(SCHEMA_VERSION);
    }
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    expect(rows.get('Grafana')![1]).toContain(`Grafana ${/image: grafana\/grafana:(\S+)/.exec(compose)![1]}`);
  });
});
