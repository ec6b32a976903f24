/**
 * Every shipped dashboard, by the file it is written to in grafana/dashboards/. Regenerate the JSON
 * with `npm run bundle:generate`; test/bundle/grafana-dashboards.test.ts fails when the committed
 * files differ from these sources. Every query is made safe for two exporter replicas on one
 * broker (replicas.ts).
 */
import { exporter } from './exporter.js';
import type { Json } from './lib.js';
import { overview } from './overview.js';
import { queues } from './queues.js';
import { replicaSafe } from './replicas.js';
import { tasks } from './tasks.js';
import { time } from './time.js';
import { workers } from './workers.js';

const sources: Record<string, Json> = {
  'celery-overview.json': overview,
  'celery-tasks.json': tasks,
  'celery-time.json': time,
  'celery-workers.json': workers,
  'celery-queues.json': queues,
  'celery-exporter.json': exporter,
};

export const dashboards: Record<string, Json> = Object.fromEntries(Object.entries(sources).map(([file, d]) => [file, replicaSafe(d)]));
