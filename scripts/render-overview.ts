import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { drawOverview, type PrometheusApi } from './lib/render-overview.js';
import { ROOT } from './lib/root.js';

/**
 * `npm run docs:picture -- --prometheus http://localhost:9090 --minutes 15`: redraws the README's
 * picture (docs/images/celery-overview.svg) from any Prometheus that scrapes the exporter — for
 * instance the Docker Compose demo's, after it has run for a while. Grafana is not needed.
 */
const { values: args } = parseArgs({
  options: {
    prometheus: { type: 'string', default: 'http://localhost:9090' },
    minutes: { type: 'string', default: '15' },
    'scrape-interval': { type: 'string', default: '15' },
    out: { type: 'string', default: join(ROOT, 'docs', 'images', 'celery-overview.svg') },
  },
});

const base = args.prometheus.replace(/\/+$/, '');
const api: PrometheusApi = async <T>(path: string, params: Record<string, string | string[]> = {}) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) q.append(k, x);
  const res = await fetch(`${base}/api/v1/${path}?${q.toString()}`);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? res.status}`);
  return body.data;
};

const end = Math.floor(Date.now() / 1000);
const start = end - Number(args.minutes) * 60;
const { svg, emptyQueries } = await drawOverview(api, { start, end, scrapeSeconds: Number(args['scrape-interval']) });
mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(args.out, svg);
console.log(`${args.out}: ${svg.length} bytes${emptyQueries.length > 0 ? `; ${emptyQueries.length} queries returned nothing` : ''}`);
