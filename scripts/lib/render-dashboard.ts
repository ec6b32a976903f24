import { panels as allPanels, type Dash, type Panel } from '../../test/helpers/dashboards.js';

/**
 * Draws a dashboard as an SVG picture in Grafana's dark theme, from the dashboard JSON and the data
 * its queries return: the same grid layout (gridPos), rows, stat panels (value with the default
 * green/red-at-80 thresholds and an area sparkline) and time series panels (classic palette, axes,
 * legend table with the panel's mean/max/last). It stands in for a Grafana screenshot where Grafana
 * cannot be installed; it renders only the panel types the shipped dashboards use.
 */
export interface RenderedSeries {
  name: string;
  points: Array<[number, number]>;
}
/** Runs one panel query (variables already resolved by the caller) over the picture's range. */
export type RenderQuery = (expr: string, legendFormat: string) => Promise<RenderedSeries[]>;

export interface RenderOptions {
  width: number;
  from: number;
  to: number;
  /** Shown in the variable bar, e.g. { Job: 'celery', Queue: 'All' }. */
  variables: Record<string, string>;
}

const CELL_H = 30;
const MARGIN = 8;
const HEADER = 56;
const PAD = 12;
const THEME = {
  canvas: '#111217',
  panel: '#181b1f',
  border: '#2c3235',
  text: '#ccccdc',
  muted: '#8e8e8e',
  grid: '#ccccdc1a',
  green: '#73BF69',
  red: '#F2495C',
  font: 'Inter, Helvetica, Arial, sans-serif',
};
/** Grafana's "classic palette" series colours, in order. */
const PALETTE = ['#7EB26D', '#EAB839', '#6ED0E0', '#EF843C', '#E24D42', '#1F78C1', '#BA43A9', '#705DA0', '#508642', '#CCA300'];

export async function renderDashboard(d: Dash, query: RenderQuery, o: RenderOptions): Promise<string> {
  const ps = allPanels(d);
  const colW = (o.width - 2 * PAD - 23 * MARGIN) / 24;
  const bottom = Math.max(...ps.map((p) => p['gridPos'].y + p['gridPos'].h));
  const height = HEADER + PAD + bottom * (CELL_H + MARGIN) + PAD;
  const box = (p: Panel) => {
    const g = p['gridPos'] as { x: number; y: number; w: number; h: number };
    return {
      x: PAD + g.x * (colW + MARGIN),
      y: HEADER + PAD + g.y * (CELL_H + MARGIN),
      w: g.w * colW + (g.w - 1) * MARGIN,
      h: g.h * CELL_H + (g.h - 1) * MARGIN,
    };
  };
  const parts: string[] = [];
  for (const p of ps) {
    const b = box(p);
    if (p['type'] === 'row') parts.push(rowTitle(p['title'] as string, b));
    else if (p['type'] === 'stat') parts.push(statPanel(p, await seriesOf(p, query), b));
    else if (p['type'] === 'timeseries') parts.push(timeseriesPanel(p, await seriesOf(p, query), b, o));
    else throw new Error(`renderDashboard: panel type ${String(p['type'])} not supported (${String(p['title'])})`);
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${o.width}" height="${height}" viewBox="0 0 ${o.width} ${height}" font-family="${THEME.font}">`,
    `<rect width="100%" height="100%" fill="${THEME.canvas}"/>`,
    header(d['title'] as string, o),
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

async function seriesOf(p: Panel, query: RenderQuery): Promise<RenderedSeries[]> {
  const out: RenderedSeries[] = [];
  for (const t of p['targets'] as Panel[]) out.push(...(await query(t['expr'] as string, (t['legendFormat'] as string | undefined) ?? '__auto')));
  return out;
}

function header(title: string, o: RenderOptions): string {
  const [folder, name] = title.includes(' / ') ? title.split(' / ') : ['', title];
  let x = PAD;
  const vars = [['Data source', 'Prometheus'], ...Object.entries(o.variables)].map(([k, v]) => {
    const kw = textWidth(k!, 12) + 16;
    const vw = textWidth(v!, 12) + 34;
    const g =
      `<rect x="${x}" y="32" width="${kw}" height="22" fill="${THEME.panel}" stroke="${THEME.border}"/>` +
      `<text x="${x + 8}" y="47" font-size="12" fill="${THEME.text}">${esc(k!)}</text>` +
      `<rect x="${x + kw}" y="32" width="${vw}" height="22" fill="${THEME.canvas}" stroke="${THEME.border}"/>` +
      `<text x="${x + kw + 8}" y="47" font-size="12" fill="${THEME.text}">${esc(v!)}</text>` +
      `<path d="M${x + kw + vw - 16} 41 l4 4 l4 -4" stroke="${THEME.muted}" fill="none"/>`;
    x += kw + vw + 8;
    return g;
  });
  return (
    `<text x="${PAD}" y="21" font-size="16" fill="${THEME.muted}">${esc(folder ?? '')}${folder ? ' / ' : ''}<tspan fill="${THEME.text}">${esc(name ?? '')}</tspan></text>` +
    vars.join('')
  );
}

function rowTitle(title: string, b: Box): string {
  return `<path d="M${b.x + 2} ${b.y + 11} l5 5 l5 -5" stroke="${THEME.text}" fill="none" stroke-width="1.5"/><text x="${b.x + 18}" y="${b.y + 20}" font-size="15" font-weight="500" fill="${THEME.text}">${esc(title)}</text>`;
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

function frame(p: Panel, b: Box): string {
  return (
    `<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="2" fill="${THEME.panel}" stroke="${THEME.border}"/>` +
    `<text x="${b.x + 8}" y="${b.y + 20}" font-size="13" font-weight="500" fill="${THEME.text}">${esc(clip(p['title'] as string, b.w - 16, 13))}</text>`
  );
}

function statPanel(p: Panel, series: RenderedSeries[], b: Box): string {
  const unit = p['fieldConfig']['defaults']['unit'] as string;
  const s = series[0];
  const last = s ? lastValue(s.points) : undefined;
  const colour = last !== undefined && last >= 80 ? THEME.red : THEME.green;
  const text = last === undefined ? 'No data' : format(last, unit);
  const out = [frame(p, b)];
  if (s && s.points.length > 1) {
    const ys = s.points.map((x) => x[1]);
    const [lo, hi] = [Math.min(0, ...ys), Math.max(...ys)];
    const area = { x: b.x + 1, y: b.y + b.h * 0.55, w: b.w - 2, h: b.h * 0.45 - 1 };
    const t0 = s.points[0]![0];
    const t1 = s.points[s.points.length - 1]![0];
    const px = (t: number) => area.x + ((t - t0) / Math.max(1, t1 - t0)) * area.w;
    const py = (v: number) => area.y + area.h - ((v - lo) / (hi - lo || 1)) * area.h;
    const line = s.points.map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${px(t).toFixed(1)} ${py(v).toFixed(1)}`).join(' ');
    out.push(`<path d="${line} L${px(t1).toFixed(1)} ${area.y + area.h} L${px(t0).toFixed(1)} ${area.y + area.h} Z" fill="${colour}" fill-opacity="0.18"/>`);
    out.push(`<path d="${line}" stroke="${colour}" fill="none" stroke-width="1"/>`);
  }
  const size = Math.min(b.h * 0.38, (b.w - 16) / Math.max(3, text.length * 0.6));
  out.push(
    `<text x="${b.x + b.w / 2}" y="${b.y + 28 + (b.h - 28) * 0.42}" font-size="${size.toFixed(0)}" font-weight="500" text-anchor="middle" dominant-baseline="middle" fill="${last === undefined ? THEME.muted : colour}">${esc(text)}</text>`,
  );
  return out.join('');
}

function timeseriesPanel(p: Panel, series: RenderedSeries[], b: Box, o: RenderOptions): string {
  const defaults = p['fieldConfig']['defaults'] as { unit: string; min?: number; max?: number; custom?: { fillOpacity?: number; stacking?: { mode?: string } } };
  const unit = defaults.unit;
  const stacked = defaults.custom?.stacking?.mode === 'normal';
  const shown = stacked ? stack(series) : series;
  const values = shown.flatMap((s) => s.points.map((x) => x[1]));
  let lo = defaults.min ?? Math.min(0, ...values);
  let hi = defaults.max ?? Math.max(...values, lo + 1e-9);
  if (defaults.max === undefined) hi = niceCeil(hi);
  if (!(hi > lo)) [lo, hi] = [0, 1];
  const legendRows = Math.min(series.length, Math.max(1, Math.floor((b.h - 130) / 18)));
  const legendH = 20 + legendRows * 18;
  const plot = { x: b.x + 58, y: b.y + 32, w: b.w - 70, h: b.h - 32 - 22 - legendH };
  const px = (t: number) => plot.x + ((t - o.from) / (o.to - o.from)) * plot.w;
  const py = (v: number) => plot.y + plot.h - ((v - lo) / (hi - lo)) * plot.h;
  const out = [frame(p, b)];
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    const y = py(v);
    out.push(`<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="${THEME.grid}"/>`);
    out.push(`<text x="${plot.x - 6}" y="${(y + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="${THEME.muted}">${esc(format(v, unit))}</text>`);
  }
  for (const t of timeTicks(o.from, o.to, Math.max(2, Math.floor(plot.w / 110)))) {
    const x = px(t);
    out.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${plot.y}" y2="${plot.y + plot.h}" stroke="${THEME.grid}"/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${plot.y + plot.h + 15}" font-size="11" text-anchor="middle" fill="${THEME.muted}">${clock(t)}</text>`);
  }
  const fill = (defaults.custom?.fillOpacity ?? 0) / 100;
  shown.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length]!;
    for (const seg of segments(s.points)) {
      const d = seg.map(([t, v], j) => `${j === 0 ? 'M' : 'L'}${px(t).toFixed(1)} ${py(Math.min(hi, Math.max(lo, v))).toFixed(1)}`).join(' ');
      if (fill > 0 && seg.length > 1) {
        out.push(`<path d="${d} L${px(seg[seg.length - 1]![0]).toFixed(1)} ${py(lo).toFixed(1)} L${px(seg[0]![0]).toFixed(1)} ${py(lo).toFixed(1)} Z" fill="${colour}" fill-opacity="${fill}"/>`);
      }
      out.push(`<path d="${d}" stroke="${colour}" fill="none" stroke-width="1"/>`);
    }
  });
  // Legend table: name, then the panel's calcs (mean, max, last), values unstacked.
  const ly = plot.y + plot.h + 26;
  const cols = ['Mean', 'Max', 'Last *'];
  const colX = (i: number) => b.x + b.w - 12 - (cols.length - 1 - i) * 78;
  out.push(...cols.map((c, i) => `<text x="${colX(i)}" y="${ly + 8}" font-size="11" text-anchor="end" fill="#6e9fff">${c}</text>`));
  series.slice(0, legendRows).forEach((s, i) => {
    const y = ly + 24 + i * 18;
    const ys = s.points.map((x) => x[1]).filter(Number.isFinite);
    const stats = ys.length === 0 ? [] : [ys.reduce((a, c) => a + c, 0) / ys.length, Math.max(...ys), ys[ys.length - 1]!];
    out.push(`<rect x="${b.x + 10}" y="${y - 5}" width="14" height="3" rx="1" fill="${PALETTE[i % PALETTE.length]}"/>`);
    out.push(`<text x="${b.x + 30}" y="${y}" font-size="12" fill="${THEME.text}">${esc(clip(s.name, colX(0) - 80 - b.x - 30, 12))}</text>`);
    stats.forEach((v, j) => out.push(`<text x="${colX(j)}" y="${y}" font-size="12" text-anchor="end" fill="${THEME.text}">${esc(format(v, unit))}</text>`));
  });
  if (series.length === 0) out.push(`<text x="${b.x + b.w / 2}" y="${b.y + b.h / 2}" font-size="14" text-anchor="middle" fill="${THEME.muted}">No data</text>`);
  return out.join('');
}

/** Cumulative sums for stacked panels (series aligned on the same timestamps). */
function stack(series: RenderedSeries[]): RenderedSeries[] {
  const acc = new Map<number, number>();
  return series.map((s) => ({
    name: s.name,
    points: s.points.map(([t, v]) => {
      const sum = (acc.get(t) ?? 0) + (Number.isFinite(v) ? v : 0);
      acc.set(t, sum);
      return [t, sum] as [number, number];
    }),
  }));
}

/** Splits a line where values are missing or not finite (Grafana leaves a gap: spanNulls false). */
function segments(points: Array<[number, number]>): Array<Array<[number, number]>> {
  const out: Array<Array<[number, number]>> = [];
  let cur: Array<[number, number]> = [];
  let prev: number | undefined;
  for (const p of points) {
    const gap = prev !== undefined && p[0] - prev > 2.5 * step(points);
    if (!Number.isFinite(p[1]) || gap) {
      if (cur.length) out.push(cur);
      cur = [];
    }
    if (Number.isFinite(p[1])) cur.push(p);
    prev = p[0];
  }
  if (cur.length) out.push(cur);
  return out;
}

function step(points: Array<[number, number]>): number {
  return points.length > 1 ? (points[points.length - 1]![0] - points[0]![0]) / (points.length - 1) : 1;
}

function lastValue(points: Array<[number, number]>): number | undefined {
  for (let i = points.length - 1; i >= 0; i--) if (Number.isFinite(points[i]![1])) return points[i]![1];
  return undefined;
}

function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

function timeTicks(from: number, to: number, n: number): number[] {
  const span = to - from;
  const raw = span / n;
  const stepS = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].find((s) => s >= raw) ?? 3600;
  const out: number[] = [];
  for (let t = Math.ceil(from / stepS) * stepS; t <= to; t += stepS) out.push(t);
  return out;
}

function clock(t: number): string {
  const d = new Date(t * 1000);
  return [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()].map((x) => String(x).padStart(2, '0')).join(':');
}

/** Grafana-like value formatting for the units the dashboards use. */
export function format(v: number, unit: string): string {
  if (!Number.isFinite(v)) return String(v);
  switch (unit) {
    case 'percentunit':
      return `${(v * 100).toFixed(Math.abs(v) >= 0.1 || v === 0 ? 1 : 2)}%`;
    case 'ops':
      return `${short(v)} ops/s`;
    case 's':
      if (v === 0) return '0 s';
      if (Math.abs(v) < 1) return `${trim(v * 1000)} ms`;
      if (Math.abs(v) < 60) return `${trim(v)} s`;
      if (Math.abs(v) < 3600) return `${trim(v / 60)} min`;
      return `${trim(v / 3600)} hour`;
    case 'bytes': {
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let x = v;
      let i = 0;
      while (Math.abs(x) >= 1024 && i < units.length - 1) {
        x /= 1024;
        i++;
      }
      return `${trim(x)} ${units[i]}`;
    }
    default:
      return short(v);
  }
}

function short(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${trim(v / 1e6)} Mil`;
  if (a >= 1e3) return `${trim(v / 1e3)} K`;
  return trim(v);
}

function trim(v: number): string {
  const a = Math.abs(v);
  const digits = a === 0 || a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return String(Number(v.toFixed(digits)));
}

function textWidth(s: string, size: number): number {
  return s.length * size * 0.55;
}

function clip(s: string, width: number, size: number): string {
  const max = Math.max(4, Math.floor(width / (size * 0.55)));
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
