/**
 * A small builder for Grafana "classic" dashboard JSON (schemaVersion 42). Each dashboard is a list
 * of rows and panels in reading order; `dashboard()` lays them out on Grafana's 24-column grid, so
 * adding a panel is one entry in a list.
 *
 * Conventions every dashboard gets from here (and test/bundle/grafana-dashboards.test.ts checks):
 * the datasource is the `${datasource}` variable (never a fixed uid), every data panel has a unit
 * and a description, range functions use `$__rate_interval`.
 */

export const SCHEMA_VERSION = 42;
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json | undefined };

// --- Queries -------------------------------------------------------------------------------------

export interface Query {
  expr: string;
  legend?: string;
  /** Table panels: one instant value per series. */
  instant?: boolean;
}

export const q = (expr: string, legend?: string): Query => (legend === undefined ? { expr } : { expr, legend });

/** A label matcher list, e.g. sel('job', 'queue_name') → `job=~"$job", queue_name=~"$queue_name"`. */
export function sel(...vars: string[]): string {
  return vars.map((v) => `${v}=~"$${v}"`).join(', ');
}

export const rate = (metric: string, filter: string, window = '$__rate_interval') => `rate(${metric}{${filter}}[${window}])`;

/** histogram_quantile over a histogram's buckets, aggregated by `by` (plus le). */
export function quantile(phi: number, histogram: string, filter: string, by: string[] = []): string {
  const labels = ['le', ...by].join(', ');
  return `histogram_quantile(${phi}, sum by (${labels}) (${rate(`${histogram}_bucket`, filter)}))`;
}

/** Mean of a histogram's observations over the rate window, by `by`. */
export function mean(histogram: string, filter: string, by: string[]): string {
  const b = by.length > 0 ? `by (${by.join(', ')}) ` : '';
  return `sum ${b}(${rate(`${histogram}_sum`, filter)}) / sum ${b}(${rate(`${histogram}_count`, filter)})`;
}

// --- Variables -----------------------------------------------------------------------------------

export interface Variable {
  name: string;
  json: Json;
}

export function datasourceVariable(): Variable {
  return {
    name: 'datasource',
    json: {
      current: {},
      hide: 0,
      includeAll: false,
      label: 'Data source',
      multi: false,
      name: 'datasource',
      options: [],
      query: 'prometheus',
      refresh: 1,
      regex: '',
      type: 'datasource',
    },
  };
}

/** A multi-select label variable with "All" (`.+`), refreshed when the time range changes. */
export function labelVariable(name: string, label: string, selector: string): Variable {
  const query = `label_values(${selector}, ${name})`;
  return {
    name,
    json: {
      allValue: '.+',
      current: {},
      datasource: { ...DATASOURCE },
      definition: query,
      hide: 0,
      includeAll: true,
      label,
      multi: true,
      name,
      options: [],
      query,
      refresh: 2,
      regex: '',
      sort: 1,
      type: 'query',
    },
  };
}

// --- Panels --------------------------------------------------------------------------------------

/** Grafana unit ids used here. */
export type Unit = 's' | 'short' | 'ops' | 'percentunit' | 'bytes' | 'bool_yes_no' | 'dateTimeAsIso';

interface PanelBase {
  title: string;
  description: string;
  /** Width in grid columns (24 = full width). */
  w?: number;
  h?: number;
}

export interface DataPanelSpec extends PanelBase {
  unit: Unit;
  queries: Query[];
  min?: number;
  max?: number;
  stack?: boolean;
  /** Per-column units for tables, by the query's refId ("A", "B", …). */
  columnUnits?: Record<string, Unit>;
  /** Table column titles by refId. */
  columnNames?: Record<string, string>;
}

export interface PanelSpec {
  kind: 'timeseries' | 'stat' | 'table' | 'text' | 'row';
  w: number;
  h: number;
  build(id: number, gridPos: GridPos): Json;
}

export type GridPos = {
  h: number;
  w: number;
  x: number;
  y: number;
};

const refId = (i: number) => String.fromCharCode(65 + i);

function targets(queries: Query[], format?: 'table'): Json[] {
  return queries.map((query, i) => ({
    datasource: { ...DATASOURCE },
    editorMode: 'code',
    expr: query.expr,
    ...(format === 'table' ? { format: 'table', instant: true, range: false } : { instant: false, range: true }),
    legendFormat: query.legend ?? '__auto',
    refId: refId(i),
  }));
}

function defaults(spec: DataPanelSpec, custom?: Json): Json {
  return {
    ...(custom === undefined ? {} : { custom }),
    ...(spec.min === undefined ? {} : { min: spec.min }),
    ...(spec.max === undefined ? {} : { max: spec.max }),
    unit: spec.unit,
  };
}

export function timeseries(spec: DataPanelSpec): PanelSpec {
  return {
    kind: 'timeseries',
    w: spec.w ?? 12,
    h: spec.h ?? 8,
    build: (id, gridPos) => ({
      datasource: { ...DATASOURCE },
      description: spec.description,
      fieldConfig: {
        defaults: defaults(spec, {
          drawStyle: 'line',
          fillOpacity: spec.stack ? 25 : 8,
          lineWidth: 1,
          showPoints: 'never',
          spanNulls: false,
          stacking: { group: 'A', mode: spec.stack ? 'normal' : 'none' },
        }),
        overrides: [],
      },
      gridPos,
      id,
      options: {
        legend: { calcs: ['mean', 'max', 'lastNotNull'], displayMode: 'table', placement: 'bottom', showLegend: true },
        tooltip: { mode: 'multi', sort: 'desc' },
      },
      targets: targets(spec.queries),
      title: spec.title,
      type: 'timeseries',
    }),
  };
}

export function stat(spec: DataPanelSpec): PanelSpec {
  return {
    kind: 'stat',
    w: spec.w ?? 4,
    h: spec.h ?? 4,
    build: (id, gridPos) => ({
      datasource: { ...DATASOURCE },
      description: spec.description,
      fieldConfig: { defaults: defaults(spec), overrides: [] },
      gridPos,
      id,
      options: {
        colorMode: 'value',
        graphMode: 'area',
        justifyMode: 'auto',
        orientation: 'auto',
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        textMode: 'auto',
      },
      targets: targets(spec.queries),
      title: spec.title,
      type: 'stat',
    }),
  };
}

/** One row per series; each query is a column (merged on the series' labels). */
export function table(spec: DataPanelSpec): PanelSpec {
  return {
    kind: 'table',
    w: spec.w ?? 24,
    h: spec.h ?? 8,
    build: (id, gridPos) => ({
      datasource: { ...DATASOURCE },
      description: spec.description,
      fieldConfig: {
        defaults: defaults(spec),
        overrides: Object.entries(spec.columnUnits ?? {}).map(([ref, unit]) => ({
          matcher: { id: 'byName', options: `Value #${ref}` },
          properties: [{ id: 'unit', value: unit }],
        })),
      },
      gridPos,
      id,
      options: { cellHeight: 'sm', showHeader: true },
      targets: targets(spec.queries, 'table'),
      title: spec.title,
      transformations: [
        { id: 'merge', options: {} },
        {
          id: 'organize',
          options: {
            excludeByName: { Time: true },
            renameByName: Object.fromEntries(Object.entries(spec.columnNames ?? {}).map(([ref, n]) => [`Value #${ref}`, n])),
          },
        },
      ],
      type: 'table',
    }),
  };
}

export function text(spec: PanelBase & { markdown: string }): PanelSpec {
  return {
    kind: 'text',
    w: spec.w ?? 24,
    h: spec.h ?? 5,
    build: (id, gridPos) => ({
      description: spec.description,
      gridPos,
      id,
      options: { content: spec.markdown, mode: 'markdown' },
      title: spec.title,
      type: 'text',
    }),
  };
}

export function row(title: string): PanelSpec {
  return {
    kind: 'row',
    w: 24,
    h: 1,
    build: (id, gridPos) => ({ collapsed: false, gridPos, id, panels: [], title, type: 'row' }),
  };
}

// --- Dashboard -----------------------------------------------------------------------------------

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  variables: Variable[];
  panels: PanelSpec[];
  time?: string;
}

/** Flows panels left to right, wrapping at 24 columns; a row always starts a new line. */
function layout(panels: PanelSpec[]): Json[] {
  const out: Json[] = [];
  let x = 0;
  let y = 0;
  let lineHeight = 0;
  panels.forEach((p, i) => {
    if (p.kind === 'row' || x + p.w > 24) {
      y += lineHeight;
      x = 0;
      lineHeight = 0;
    }
    out.push(p.build(i + 1, { h: p.h, w: p.w, x, y }));
    x += p.w;
    lineHeight = Math.max(lineHeight, p.h);
    if (p.kind === 'row') {
      y += p.h;
      x = 0;
      lineHeight = 0;
    }
  });
  return out;
}

export function dashboard(spec: DashboardSpec): Json {
  return {
    annotations: { list: [] },
    description: spec.description,
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    links: [
      { asDropdown: true, icon: 'external link', includeVars: true, keepTime: true, tags: ['celery'], targetBlank: false, title: 'Celery dashboards', type: 'dashboards' },
    ],
    panels: layout(spec.panels),
    refresh: '30s',
    schemaVersion: SCHEMA_VERSION,
    tags: ['celery'],
    templating: { list: [datasourceVariable(), ...spec.variables].map((v) => v.json) },
    time: { from: spec.time ?? 'now-3h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    title: spec.title,
    uid: spec.uid,
    version: 1,
  };
}

/** The committed file's text for a dashboard: stable key order as built, two-space indent. */
export function render(d: Json): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
