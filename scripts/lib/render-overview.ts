import { dashboards } from '../../grafana/src/index.js';
import { render } from '../../grafana/src/lib.js';
import { formatMulti, interpolate, parseLabelValues, variables, type Dash } from '../../test/helpers/dashboards.js';
import { renderDashboard, type RenderedSeries } from './render-dashboard.js';

/** A Prometheus HTTP API call: path under /api/v1/, query parameters → the `data` field. */
export type PrometheusApi = <T>(path: string, params?: Record<string, string | string[]>) => Promise<T>;

interface QueryData {
  result: Array<{ metric: Record<string, string>; values?: Array<[number, string]> }>;
}

export interface OverviewOptions {
  /** Unix seconds. */
  start: number;
  end: number;
  /** Prometheus's scrape interval in seconds (Grafana derives $__rate_interval from it). */
  scrapeSeconds: number;
  width?: number;
}

/** Grafana's legend: `{{label}}` templates, or the series' labels (the expression when it has none). */
export function legendName(format: string, metric: Record<string, string>, expr: string): string {
  if (format !== '__auto' && format !== '') return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, l: string) => metric[l] ?? '');
  const labels = Object.entries(metric).map(([k, v]) => `${k}="${v}"`);
  return labels.length > 0 ? `{${labels.join(', ')}}` : expr;
}

/**
 * Draws the Celery / Overview dashboard as an SVG from what a Prometheus holds, the way Grafana
 * would with every variable on "All": resolves the variables through the label-values API, runs
 * each panel query over [start, end] and lays the panels out on the dashboard's grid. Used by
 * `npm run docs:picture` (the picture in the README) and by the end-to-end Prometheus proof,
 * which requires every panel to draw with data.
 */
export async function drawOverview(api: PrometheusApi, o: OverviewOptions): Promise<{ svg: string; emptyQueries: string[] }> {
  const file = 'celery-overview.json';
  const d = JSON.parse(render(dashboards[file]!)) as Dash;
  const values: Record<string, string> = {
    __rate_interval: `${4 * o.scrapeSeconds}s`,
    __interval: `${o.scrapeSeconds}s`,
    __range: `${o.end - o.start}s`,
  };
  for (const v of variables(file, d).filter((x) => x.type === 'query')) {
    const { selector, label } = parseLabelValues(v.query);
    const found = await api<string[]>(`label/${label}/values`, { 'match[]': interpolate(selector, values), start: String(o.start), end: String(o.end) });
    values[v.name] = formatMulti(found.length > 0 ? found : ['']);
  }
  const step = Math.max(o.scrapeSeconds, Math.ceil((o.end - o.start) / 400));
  const emptyQueries: string[] = [];
  const svg = await renderDashboard(
    d,
    async (expr, legend) => {
      const data = await api<QueryData>('query_range', { query: interpolate(expr, values), start: String(o.start), end: String(o.end), step: String(step) });
      if (data.result.length === 0) emptyQueries.push(expr);
      return data.result.map((r): RenderedSeries => ({ name: legendName(legend, r.metric, expr), points: (r.values ?? []).map(([t, v]) => [t, Number(v)]) }));
    },
    { width: o.width ?? 1600, from: o.start, to: o.end, variables: { Job: 'celery', Queue: 'All' } },
  );
  return { svg, emptyQueries };
}
