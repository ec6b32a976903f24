/**
 * Every shipped dashboard, by the file it is written to in grafana/dashboards/. Regenerate the JSON
 * with `npm run bundle:generate`; test/bundle/grafana-dashboards.test.ts fails when the committed
 * files differ from these sources.
 */
import { exporter } from './exporter.js';
import type { Json } from './lib.js';
import { overview } from './overview.js';
import { queues } from './queues.js';
import { tasks } from './tasks.js';
import { time } from './time.js';
import { workers } from './workers.js';

export const dashboards: Record<string, Json> = {
  'celery-overview.json': overview,
  'celery-tasks.json': tasks,
  'celery-time.json': time,
  'celery-workers.json': workers,
  'celery-queues.json': queues,
  'celery-exporter.json': exporter,
};
