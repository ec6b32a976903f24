import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './exporter.js';

export const DASHBOARDS_DIR = join(ROOT, 'grafana', 'dashboards');

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Dash = Record<string, any>;
export type Panel = Record<string, any>;

export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
  instant: boolean;
}

export interface DashVariable {
  dashboard: string;
  name: string;
  type: string;
  query: string;
  multi: boolean;
  includeAll: boolean;
}

/** The committed dashboards (grafana/dashboards/*.json), by file name. */
export function committedDashboards(): Record<string, Dash> {
  const out: Record<string, Dash> = {};
  for (const f of readdirSync(DASHBOARDS_DIR).filter((x) => x.endsWith('.json')).sort()) {
    out[f] = JSON.parse(readFileSync(join(DASHBOARDS_DIR, f), 'utf8')) as Dash;
  }
  return out;
}

/** Every panel, rows' nested panels included. */
export function panels(d: Dash): Panel[] {
  return (d['panels'] as Panel[]).flatMap((p) => [p, ...((p['panels'] as Panel[] | undefined) ?? [])]);
}

export function queries(file: string, d: Dash): PanelQuery[] {
  return panels(d).flatMap((p) =>
    ((p['targets'] as Panel[] | undefined) ?? []).map((t) => ({
      dashboard: file,
      panel: p['title'] as string,
      refId: t['refId'] as string,
      expr: t['expr'] as string,
      instant: t['instant'] === true,
    })),
  );
}

export function variables(file: string, d: Dash): DashVariable[] {
  return (d['templating']['list'] as Panel[]).map((v) => ({
    dashboard: file,
    name: v['name'] as string,
    type: v['type'] as string,
    query: typeof v['query'] === 'string' ? (v['query'] as string) : (v['query']?.['query'] as string),
    multi: v['multi'] === true,
    includeAll: v['includeAll'] === true,
  }));
}

/** `label_values(<selector>, <label>)` → its parts. */
export function parseLabelValues(query: string): { selector: string; label: string } {
  const m = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/s.exec(query.trim());
  if (!m) throw new Error(`not a label_values() query: ${query}`);
  return { selector: m[1]!, label: m[2]! };
}

/**
 * Grafana's Prometheus interpolation of a multi-value/All variable: each value regex-escaped
 * (inside a PromQL string, so backslashes doubled) and joined as `(a|b)`; one value alone unwrapped.
 */
export function formatMulti(values: string[]): string {
  const esc = values.map((v) => v.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&'));
  return esc.length === 1 ? esc[0]! : `(${esc.join('|')})`;
}

/** Replaces `$name`/`${name}` of each given variable (longest names first, whole words only). */
export function interpolate(expr: string, values: Record<string, string>): string {
  let out = expr;
  for (const name of Object.keys(values).sort((a, b) => b.length - a.length)) {
    out = out.replace(new RegExp(`\\$\\{${name}\\}|\\$${name}(?![a-zA-Z0-9_])`, 'g'), () => values[name]!);
  }
  return out;
}

/** Metric names an expression reads: `name{…}` selectors and `__name__=~"a|b"` alternatives. */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/__name__=~"([^"]+)"/g)) for (const n of m[1]!.split('|')) names.add(n);
  for (const m of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)) names.add(m[1]!);
  return [...names].sort();
}

export type BrokerKind = 'redis' | 'rabbitmq';

/**
 * Metrics only one broker can produce (docs/metrics.md's "Queues and broker" sections). A panel query reading
 * one of them is broker-specific: the Prometheus proof requires data from it on that broker and
 * requires it to be empty on the other, so this list cannot drift from what the exporter does.
 */
export const BROKER_ONLY_METRICS: Record<string, BrokerKind> = {
  celery_queue_length_by_priority: 'redis',
  celery_queue_unacked_oldest_age_seconds: 'redis',
  celery_broker_evicted_keys_total: 'redis',
  celery_active_consumer_count: 'rabbitmq',
  celery_broker_messages_ready: 'rabbitmq',
  celery_broker_messages_unacked: 'rabbitmq',
  celery_broker_messages_published_total: 'rabbitmq',
  celery_broker_messages_delivered_total: 'rabbitmq',
};

/** The one broker an expression needs, or undefined when it works on both; throws on a mix. */
export function brokerOf(expr: string): BrokerKind | undefined {
  const kinds = new Set(metricNames(expr).flatMap((n) => (BROKER_ONLY_METRICS[n] ? [BROKER_ONLY_METRICS[n]] : [])));
  if (kinds.size > 1) throw new Error(`reads metrics of both brokers: ${expr}`);
  return [...kinds][0];
}
