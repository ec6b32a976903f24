import { pino } from 'pino';
import { buildEventPath } from '../../src/app/event-path.js';
import { defaultConfig, type Config } from '../../src/config/config.js';
import { cell } from './generated.js';

/**
 * The metric reference of docs/metrics.md, generated from the registry the daemon serves: the
 * event path built without any I/O (as the unit tests build it), with every optional family
 * switched on (`--metric-names celery-exporter`). Checked against the code and against the golden file's
 * families by test/unit/docs-reference.test.ts.
 */
export interface FamilyDoc {
  name: string;
  type: string;
  labels: readonly string[];
  help: string;
}

/** `--metric-names celery-exporter`: the configuration that serves every optional family too. */
function withCeleryExporterNames(cfg: Config): Config {
  return { ...cfg, metrics: { ...cfg.metrics, celeryExporterNames: true } };
}

/** Every family of the exporter's own registry, in registration (= exposition) order. */
export function metricFamilies(): FamilyDoc[] {
  const { metrics } = buildEventPath(withCeleryExporterNames(defaultConfig()), pino({ level: 'silent' }), { now: () => 0, defaultMetrics: false });
  const names = metrics.registry
    .renderOwnSync()
    .split('\n')
    .filter((l) => l.startsWith('# TYPE '))
    .map((l) => l.split(' ')[2]!);
  return names.map((name) => {
    const f = metrics.registry.get(name)!;
    return { name, type: f.type, labels: f.labelNames, help: f.help };
  });
}

const SECTIONS: Array<[string, (name: string) => boolean]> = [
  ['Tasks', (n) => n.startsWith('celery_task_') || n.startsWith('celery_tasks_')],
  ['Workers', (n) => n.startsWith('celery_worker_') || n === 'celery_active_worker_count' || n === 'celery_active_process_count'],
  ['Queues', (n) => n.startsWith('celery_queue_') || n === 'celery_active_consumer_count'],
  ['Broker', (n) => n.startsWith('celery_broker_')],
  ['The exporter itself', (n) => n.startsWith('celery_exporter_')],
];

export function metricsReference(): string {
  const families = metricFamilies();
  const out: string[] = [`${families.length} families, in the order \`/metrics\` serves them, plus prom-client's \`process_*\` and \`nodejs_*\`.`, ''];
  const placed = new Set<string>();
  const sections = [...SECTIONS, ['Other', () => true] as [string, (n: string) => boolean]];
  for (const [title, matches] of sections) {
    const rows = families.filter((f) => !placed.has(f.name) && matches(f.name));
    if (rows.length === 0) continue;
    out.push(`### ${title}`, '', '| Metric | Type | Labels | Meaning |', '|---|---|---|---|');
    for (const f of rows) {
      placed.add(f.name);
      out.push(`| \`${f.name}\` | ${f.type} | ${f.labels.length > 0 ? f.labels.join(', ') : '–'} | ${cell(f.help)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
