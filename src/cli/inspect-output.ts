import { isErrorReply } from '../remote/worker-replies.js';
import { renderTable } from './table.js';
import { isFiniteNumber } from '../util/numbers.js';

type Row = string[];
type Obj = Record<string, unknown>;

/**
 * The readable form of `inspect <method>` replies: one table per method, a row per worker
 * and item. Anything a column does not show is in `--json`.
 */
export function inspectTable(method: string, nodes: Record<string, unknown>): string {
  const spec = TABLES[method] ?? GENERIC;
  const rows: Row[] = [];
  for (const [node, value] of Object.entries(nodes).sort(([a], [b]) => a.localeCompare(b))) {
    if (isErrorReply(value)) {
      rows.push([node, `error: ${String(value.error)}`, ...spec.headers.slice(2).map(() => '')]);
      continue;
    }
    const r = spec.rows(value);
    if (r.length === 0) rows.push([node, '- empty -', ...spec.headers.slice(2).map(() => '')]);
    for (const cells of r) rows.push([node, ...cells]);
  }
  return renderTable(spec.headers, rows);
}

interface TableSpec {
  headers: string[];
  rows(value: unknown): Row[];
}

const GENERIC: TableSpec = { headers: ['NODE', 'REPLY'], rows: (v) => [[compact(v)]] };

const requestRow = (r: unknown): Row => {
  const o = obj(r);
  return [str(o['id']), str(o['name']), compact(o['args']), compact(o['kwargs'])];
};

const TABLES: Record<string, TableSpec> = {
  ping: { headers: ['NODE', 'REPLY'], rows: (v) => [[str(obj(v)['ok'] ?? compact(v))]] },
  stats: {
    headers: ['NODE', 'PID', 'CONCURRENCY', 'PROCESSES', 'PREFETCH', 'UPTIME', 'TASKS DONE', 'TRANSPORT'],
    rows: (v) => {
      const o = obj(v);
      const pool = obj(o['pool']);
      const procs = pool['processes'];
      const total = Object.values(obj(o['total'])).reduce<number>((a, n) => a + (typeof n === 'number' ? n : 0), 0);
      return [
        [
          str(o['pid']),
          str(pool['max-concurrency']),
          Array.isArray(procs) ? String(procs.length) : '-',
          str(o['prefetch_count']),
          typeof o['uptime'] === 'number' ? duration(o['uptime']) : '-',
          String(total),
          str(obj(o['broker'])['transport']),
        ],
      ];
    },
  },
  active: {
    headers: ['NODE', 'ID', 'TASK', 'ARGS', 'KWARGS', 'STARTED', 'PID'],
    rows: (v) => list(v).map((r) => [...requestRow(r), time(obj(r)['time_start']), str(obj(r)['worker_pid'])]),
  },
  reserved: { headers: ['NODE', 'ID', 'TASK', 'ARGS', 'KWARGS'], rows: (v) => list(v).map(requestRow) },
  scheduled: {
    headers: ['NODE', 'ID', 'TASK', 'ARGS', 'KWARGS', 'ETA', 'PRIORITY'],
    rows: (v) => list(v).map((s) => [...requestRow(obj(s)['request']), str(obj(s)['eta']), str(obj(s)['priority'])]),
  },
  registered: { headers: ['NODE', 'TASK'], rows: (v) => list(v).map((t) => [str(t)]) },
  active_queues: {
    headers: ['NODE', 'QUEUE', 'EXCHANGE', 'TYPE', 'ROUTING KEY'],
    rows: (v) =>
      list(v).map((q) => {
        const o = obj(q);
        const ex = obj(o['exchange']);
        return [str(o['name']), str(ex['name']), str(ex['type']), str(o['routing_key'])];
      }),
  },
  conf: { headers: ['NODE', 'SETTING', 'VALUE'], rows: (v) => Object.entries(obj(v)).map(([k, x]) => [k, compact(x)]) },
  revoked: { headers: ['NODE', 'TASK ID'], rows: (v) => list(v).map((t) => [str(t)]) },
};

function obj(v: unknown): Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {};
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string {
  return v === undefined || v === null || v === '' ? '-' : typeof v === 'string' ? v : JSON.stringify(v);
}

function compact(v: unknown, max = 60): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? '-';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function time(v: unknown): string {
  return isFiniteNumber(v) ? new Date(v * 1000).toISOString() : '-';
}

function duration(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m ${sec}s` : m > 0 ? `${m}m ${sec}s` : `${sec}s`;
}
